"""The engine on raw bytes: exact positions, encodings, line endings, allow directives, limits."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiscan.engine.scanner import Scanner
from nhiscan.engine.text import LineIndex, normalize
from nhiscan.rules import load_pack, load_rules, RuleSet
from tests.tokens import generic_password, github_classic_pat


def findings(scanner: Scanner, data: bytes) -> list:
    text = normalize(data)
    assert text is not None
    return scanner.scan(text).matches


def test_position_of_secret_not_of_match(scanner: Scanner) -> None:
    pw = generic_password()
    data = f"# config\n\n    DB_PASSWORD = \"{pw}\"\n".encode()
    (m,) = findings(scanner, data)
    assert (m.line, m.column) == (3, len('    DB_PASSWORD = "') + 1)
    assert (m.end_line, m.end_column) == (3, m.column + len(pw))
    assert m.secret == pw.encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_for_every_line_ending(scanner: Scanner, newline: str) -> None:
    pw = generic_password()
    lines = ["a = 1", "b = 2", f'api_key = "{pw}"', "c = 3"]
    (m,) = findings(scanner, newline.join(lines).encode())
    assert (m.line, m.column) == (3, 12)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-8-sig"])
def test_bom_encoded_text_is_decoded(scanner: Scanner, encoding: str) -> None:
    pw = generic_password()
    text = f"é line one\npassword = '{pw}'\n"
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
           "utf-32-le": codecs.BOM_UTF32_LE, "utf-8-sig": b""}[encoding]
    data = bom + text.encode(encoding)
    (m,) = findings(scanner, data)
    assert (m.line, m.column) == (2, 13)


def test_invalid_utf8_around_a_secret(scanner: Scanner) -> None:
    pw = generic_password()
    data = b"\xfa\xff\xfe garbage \xc3\x28\n\x80\x81 token = '" + pw.encode() + b"' \xe2\x82\n"
    (m,) = findings(scanner, data)
    assert m.line == 2 and m.secret == pw.encode()
    # Columns count code points, with each undecodable byte counting as one.
    assert m.column == len("\x80\x81 token = '") + 1


def test_columns_count_code_points(scanner: Scanner) -> None:
    pw = generic_password()
    data = f"ü€😀 = 1; secret = '{pw}'".encode()
    (m,) = findings(scanner, data)
    assert m.column == len("ü€😀 = 1; secret = '") + 1


def test_binary_is_detected() -> None:
    assert normalize(b"\x89PNG\r\n\x1a\n\0\0\0") is None
    assert normalize(b"plain") == b"plain"


@pytest.mark.parametrize(
    "directive",
    ["# nhiscan:allow", "// gitleaks:allow", "# pragma: allowlist secret"],
)
def test_inline_allow_directives(scanner: Scanner, directive: str) -> None:
    pw = generic_password()
    res = scanner.scan(f'password = "{pw}"  {directive}\n'.encode())
    assert res.matches == [] and res.allowed == 1


def test_nextline_allow_directive(scanner: Scanner) -> None:
    pw = generic_password()
    res = scanner.scan(f'# pragma: allowlist nextline secret\npassword = "{pw}"\n'.encode())
    assert res.matches == [] and res.allowed == 1
    res = scanner.scan(f'# pragma: allowlist nextline secret\n\npassword = "{pw}"\n'.encode())
    assert len(res.matches) == 1


def test_specific_rule_beats_generic(scanner: Scanner, ruleset: RuleSet) -> None:
    if not any(r.checksum == "github-crc32" for r in ruleset.rules):
        pytest.skip("no GitHub rule loaded")
    tok = github_classic_pat()
    (m,) = findings(scanner, f'GITHUB_TOKEN = "{tok}"\n'.encode())
    assert m.rule_id != "generic-credential" and m.secret == tok.encode()


def test_github_checksum_rejects_a_corrupted_token(scanner: Scanner, ruleset: RuleSet) -> None:
    if not any(r.checksum == "github-crc32" for r in ruleset.rules):
        pytest.skip("no GitHub rule loaded")
    tok = github_classic_pat()
    bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    assert [m for m in findings(scanner, f"{bad}\n".encode()) if m.secret == bad.encode()] == []


def test_line_index_cr_only_and_mixed() -> None:
    idx = LineIndex(b"a\rb\r\nc\nd")
    assert [idx.position(i)[0] for i in (0, 2, 5, 7)] == [1, 2, 3, 4]


CATASTROPHIC = '''
[[rule]]
id = "slow-rule"
name = "Catastrophic"
provider = "Test"
nhi_kind = "generic-credential"
severity = "low"
keywords = ["aaaa"]
regex = '((?:a|aa){1,60}){1,60}b'
secret_group = 0
'''


def test_catastrophic_regex_is_time_bounded(tmp_path: Path) -> None:
    pack = tmp_path / "slow.toml"
    pack.write_text(CATASTROPHIC)
    rules = RuleSet(tuple(load_pack(pack)))
    scanner = Scanner(rules, backend="aho-corasick", regex_timeout=0.2)
    res = scanner.scan(b"a" * 200 + b"c\n", label="adversarial.txt")
    assert res.timeouts >= 1
    assert "slow-rule" in res.warnings[0] and "adversarial.txt" in res.warnings[0]


def test_huge_single_line_is_scanned(scanner: Scanner) -> None:
    pw = generic_password()
    filler = b"x=1;" * 500_000
    data = filler + f"secret = '{pw}';".encode() + filler
    (m,) = findings(scanner, data)
    assert m.line == 1 and m.column == len(filler) + len("secret = '") + 1


def test_load_rules_includes_builtin_packs() -> None:
    rules = load_rules()
    assert "generic-credential" in rules.by_id


def _reference_position(data: bytes, off: int) -> tuple[int, int]:
    """Naive line/column: walk every byte (CRLF, LF and lone CR end lines)."""
    line, start, i = 1, 0, 0
    while i < off:
        c = data[i : i + 1]
        if c == b"\n":
            line, start = line + 1, i + 1
        elif c == b"\r":
            if data[i + 1 : i + 2] == b"\n":
                if i + 1 < off:
                    line, start = line + 1, i + 2
                    i += 1
            else:
                line, start = line + 1, i + 1
        i += 1
    return line, len(data[start:off].decode("utf-8", "replace")) + 1


from hypothesis import given, strategies as st  # noqa: E402


@given(
    st.binary(max_size=40).map(lambda b: bytes(b"ab\r\n\xc3\xa9"[x % 6] for x in b)),
    st.lists(st.integers(0, 40), max_size=5),
)
def test_line_index_matches_a_naive_walk(data: bytes, offsets: list[int]) -> None:
    idx = LineIndex(data)
    for off in offsets:
        off = min(off, len(data))
        assert idx.position(off) == _reference_position(data, off)


# ---- quiet(): nothing to report, known from the bytes around the hits -------------------------

def _reader(data: bytes, asked: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    def read(spans: list[tuple[int, int]]) -> bytes:
        asked.extend(spans)
        return b"".join(data[a:b] for a, b in spans)

    return read


def _nothing(scanner: Scanner, data: bytes, hits: dict[int, list[int]]) -> bool:
    result = scanner.scan(data, hits={k: list(v) for k, v in hits.items()})
    return not result.matches and not result.allowed and not result.timeouts


_RULE_LINES = [e.encode() for r in load_rules().rules if not r.multiline for e in r.examples[:1]][:120]
_CODE_LINES = [
    b"def handler(event, context):", b"    return None", b"", b"password = ", b"api_key: ",
    b'"auth": ', b"token = get_token()", b"# nhiscan:allow", b"Authorization: Basic ",
    b"secret: c2VjcmV0LXZhbHVlLXRoYXQtaXMtbm90LWEtdG9rZW4=", b"kind: Secret", b"data:",
    b"x" * 300, b"\tpassword: hunter2", b"https://user:", b"@example.test/",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.one_of(st.sampled_from(_RULE_LINES), st.sampled_from(_CODE_LINES), st.binary(max_size=30)), max_size=60),
    st.sampled_from([b"\n", b" " * 700, b"x" * 5000]),
)
def test_quiet_only_when_a_scan_reports_nothing(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch, lines: list[bytes], sep: bytes
) -> None:
    from nhiscan.engine.prefilter import DECODE_FILE, DECODE_LINE

    # Lines joined by newlines, or into long lines (regions then end where the line snap gives up).
    data = (b"\n" if sep == b"\n" else b"\n" + sep).join(lines)
    hits = scanner.prefilter.hits(data)
    confirmed: list[tuple[str, int, bytes]] = []
    real_spans, real_segments = scanner._spans, scanner._segments

    def spans(idx, crule, region):  # type: ignore[no-untyped-def]
        confirmed.append(("quiet" if asked is not None else "scan", idx, region))
        return real_spans(idx, crule, region)

    def segments(region):  # type: ignore[no-untyped-def]
        confirmed.append(("quiet" if asked is not None else "scan", DECODE_LINE, region))
        return real_segments(region)

    monkeypatch.setattr(scanner, "_spans", spans)
    monkeypatch.setattr(scanner, "_segments", segments)
    asked: list[tuple[int, int]] | None = None
    nothing = _nothing(scanner, data, hits)
    asked = []
    quiet = scanner.quiet({k: list(v) for k, v in hits.items()}, len(data), _reader(data, asked))
    by_scan = {(i, r) for who, i, r in confirmed if who == "scan"}
    by_quiet = {(i, r) for who, i, r in confirmed if who == "quiet"}
    if quiet:
        assert nothing
        assert by_quiet == by_scan  # the very regions a scan confirms, read from the spans alone
    else:
        assert by_quiet <= by_scan or DECODE_FILE in hits
        if DECODE_FILE not in hits and DECODE_LINE not in hits:
            assert not nothing  # (plain hits: quiet() is exact)
    assert all(0 <= a < b <= len(data) for a, b in asked)
    assert all(b < c for (_, b), (c, _) in zip(asked, asked[1:]))  # sorted, apart


def test_quiet_reads_only_around_the_hits(scanner: Scanner) -> None:
    filler = b"".join(b"    value_%d = compute(%d)\n" % (i, i) for i in range(8000))
    data = filler + b'password = "see the vault"\n    token: from-the-vault\n' + filler
    hits = scanner.prefilter.hits(data)
    assert hits
    asked: list[tuple[int, int]] = []
    assert scanner.quiet(hits, len(data), _reader(data, asked))
    assert _nothing(scanner, data, hits)
    assert 0 < sum(b - a for a, b in asked) < 40_000 < len(data) // 10


def test_quiet_is_not_said_of_a_secret_an_allowed_one_or_an_encoded_one(scanner: Scanner) -> None:
    import base64

    filler = b"".join(b"    value_%d = compute(%d)\n" % (i, i) for i in range(4000))
    token = github_classic_pat().encode()
    for middle in (
        b'password = "see the vault"\nGITHUB_TOKEN = "' + token + b'"\n',  # a finding near a dead hit
        b'GITHUB_TOKEN = "' + token + b'"  # nhiscan:allow\n',  # reported as allowed
        b'      "auth": "' + base64.b64encode(b"octocat:" + token) + b'"\n',  # in base64
        b'    note = "Basic ' + base64.b64encode(b"ci:" + token) + b'"\n',  # found by decoding alone
    ):
        data = filler + middle + filler
        hits = scanner.prefilter.hits(data)
        assert not _nothing(scanner, data, hits), middle
        assert not scanner.quiet({k: list(v) for k, v in hits.items()}, len(data), _reader(data, [])), middle
