"""nhiscan.engine.decode: base64 and percent-encoded spans, decoded, bounded, never crashing."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from nhiscan.engine.decode import decoded_segments
from tests.tokens import github_classic_pat, rand


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def decoded_at(data: str | bytes, encoded: str) -> list[bytes]:
    """The decodings reported for the span of ``encoded`` inside ``data``."""
    blob = data.encode() if isinstance(data, str) else data
    start = blob.index(encoded.encode())
    end = start + len(encoded)
    return [raw for s, e, raw in decoded_segments(blob) if (s, e) == (start, end)]


# -- the places secrets are stored encoded ----------------------------------------------------

def test_kubernetes_secret_data_values() -> None:
    token = github_classic_pat()
    password = rand(18)
    enc_token, enc_password = b64(token), b64(password)
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n"
        f"  GITHUB_TOKEN: {enc_token}\n  DB_PASSWORD: {enc_password}\n"
    )
    assert decoded_at(manifest, enc_token) == [token.encode()]
    assert decoded_at(manifest, enc_password) == [password.encode()]


def test_docker_config_auth() -> None:
    auth = b64(f"robot$ci:{rand(32)}")
    config = json.dumps({"auths": {"registry.example.com": {"auth": auth}}})
    [raw] = decoded_at(config, auth)
    assert raw.startswith(b"robot$ci:")


def test_basic_authorization_header() -> None:
    cred = b64("deploy:" + rand(20))
    header = f"curl -H 'Authorization: Basic {cred}' https://api.example.com/v1/things"
    [raw] = decoded_at(header, cred)
    assert raw.startswith(b"deploy:")


def test_short_basic_auth_is_found() -> None:
    assert decoded_at("Authorization: Basic dXNlcjpwYXNz\n", "dXNlcjpwYXNz") == [b"user:pass"]


def test_url_safe_base64_without_padding() -> None:
    text = "svc-account:" + rand(24) + "??>>"  # bytes that encode to - and _ in URL-safe base64
    enc = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    assert decoded_at(f"value = '{enc}'", enc) == [text.encode()]


def test_long_base64_blob_in_config() -> None:
    key = {"type": "service_account", "private_key_id": rand(40, "0123456789abcdef"), "client_email": "ci@p.iam.gserviceaccount.com"}
    enc = b64(json.dumps(key))
    [raw] = decoded_at(f'GOOGLE_CREDENTIALS_B64="{enc}"\n', enc)
    assert json.loads(raw)["type"] == "service_account"


def test_percent_encoded_url() -> None:
    token = github_classic_pat()
    url = "https://example.com/callback?next=" + quote(f"https://api.example.com/?access_token={token}", safe="")
    blob = f"redirect: {url}\n".encode()
    found = [(s, e, raw) for s, e, raw in decoded_segments(blob) if token.encode() in raw]
    assert found
    s, e, raw = found[0]
    assert blob[s:e] == url.encode()


def test_nested_base64_reported_at_the_outer_span() -> None:
    inner = b64("bob:" + rand(16))
    outer = b64(json.dumps({"auths": {"r.example.com": {"auth": inner}}}))
    blob = f".dockerconfigjson: {outer}\n"
    raws = decoded_at(blob, outer)
    assert len(raws) == 2
    assert raws[0].startswith(b'{"auths"')
    assert raws[1].startswith(b"bob:")
    assert decoded_segments(blob.encode(), max_depth=1) == [
        (blob.index(outer), blob.index(outer) + len(outer), raws[0])
    ]


# -- what is not decoded ----------------------------------------------------------------------

def test_binary_base64_is_not_returned() -> None:
    blob = f"favicon: data:image/png;base64,{b64(bytes(range(256)) * 4)}\n"
    assert decoded_segments(blob.encode()) == []


def test_identifiers_hex_and_words_are_not_base64_text() -> None:
    code = (
        "def getAttributeNames(self):\n"
        "    return self.someVeryLongIdentifierName + CONSTANT_VALUE_NAME\n"
        "digest = 'd41d8cd98f00b204e9800998ecf8427e'\n"
        "pem = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDTyiVxrsSyZ'\n"
    )
    assert decoded_segments(code.encode()) == []


def test_percent_without_text_is_ignored() -> None:
    assert decoded_segments(b"progress: 100% done, 50%off") == []
    assert decoded_segments(b"blob=%00%01%02%03%04%05%06%07") == []


def test_depth_zero_and_empty_input() -> None:
    enc = b64("user:" + rand(12))
    assert decoded_segments(enc.encode(), max_depth=0) == []
    assert decoded_segments(b"") == []


def test_output_budget() -> None:
    blob = " ".join(b64(f"user{i}:{rand(30)}") for i in range(50)).encode()
    everything = decoded_segments(blob)
    assert len(everything) == 50
    limited = decoded_segments(blob, max_bytes=200)
    assert 0 < len(limited) < 50
    assert sum(len(raw) for _, _, raw in limited) <= 200


def test_span_limit() -> None:
    enc = b64("k: " + rand(3000))
    assert decoded_at(enc, enc)
    assert decoded_segments(enc.encode(), max_span=1024) == []


# -- properties -------------------------------------------------------------------------------

text_value = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.@!")),
    min_size=9,  # 12 base64 characters, the shortest run decoded (``user:pass``)
    max_size=120,
).filter(lambda v: sum(c.isalnum() for c in v) * 2 >= len(v))  # readable text, not punctuation
# Separators around a value; no "=", which would read as base64 padding.
filler = st.text(alphabet=st.sampled_from(list(" \n\t:,;\"'{}[]()")), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(before=filler, value=text_value, after=filler)
def test_base64_of_text_round_trips(before: str, value: str, after: str) -> None:
    """Base64 of readable text, between separators, is found at its exact span."""
    enc = b64(value)
    blob = (before + enc + after).encode()
    start = len(before.encode())
    assert (start, start + len(enc), value.encode()) in decoded_segments(blob)


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=4096), depth=st.integers(0, 4), budget=st.integers(0, 2048))
def test_arbitrary_bytes_never_crash_and_output_is_bounded(blob: bytes, depth: int, budget: int) -> None:
    out = decoded_segments(blob, max_depth=depth, max_bytes=budget)
    assert sum(len(raw) for _, _, raw in out) <= budget
    assert [s for s, _, _ in out] == sorted(s for s, _, _ in out)
    for start, end, raw in out:
        assert 0 <= start < end <= len(blob)
        assert raw and len(raw) <= end - start


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            text_value.map(b64),
            text_value.map(lambda v: quote(v, safe="")),
            st.text(max_size=30),
        ),
        max_size=12,
    )
)
def test_mixed_text_never_crashes(parts: list[str]) -> None:
    blob = " ".join(parts).encode("utf-8", "surrogatepass")
    for start, end, raw in decoded_segments(blob, max_depth=3):
        assert 0 <= start < end <= len(blob) and raw
