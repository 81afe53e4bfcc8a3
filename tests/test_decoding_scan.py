"""Secrets that appear base64- or percent-encoded are found, at the encoded span."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from nhiscan.engine.scanner import Scanner
from nhiscan.model import RuleSet
from tests.tokens import generic_password, github_classic_pat


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_kubernetes_secret_data_is_decoded(scanner: Scanner) -> None:
    pw = generic_password()
    tok = github_classic_pat()
    doc = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
        f"  username: {b64('appuser')}\n  password: {b64(pw)}\n  gh: {b64(tok)}\n"
    ).encode()
    found = {m.secret.decode(): m for m in scanner.scan(doc).matches}
    assert pw in found and tok in found
    assert (found[pw].line, found[pw].column) == (8, 13)
    assert found[pw].end_column == 13 + len(b64(pw))


def test_percent_encoded_password_in_a_url(scanner: Scanner) -> None:
    pw = generic_password() + "@/:"
    url = f"postgresql://app:{urllib.parse.quote(pw, safe='')}@db.internal:5432/app"
    res = scanner.scan(f'DATABASE_URL = "{url}"\n'.encode())
    assert any(m.secret in (pw.encode(), urllib.parse.quote(pw, safe="").encode()) for m in res.matches)


def test_docker_config_auth_is_decoded(scanner: Scanner) -> None:
    tok = github_classic_pat()
    cfg = json.dumps({"auths": {"ghcr.io": {"auth": b64(f"octocat:{tok}")}}}, indent=2).encode()
    secrets = {m.secret.decode() for m in scanner.scan(cfg).matches}
    assert tok in secrets or any(tok in s for s in secrets)


def test_decoding_reports_no_raw_secret(cli, tmp_path: Path) -> None:
    pw = generic_password()
    (tmp_path / "secret.yaml").write_text(f"kind: Secret\ndata:\n  password: {b64(pw)}\n")
    r = cli("scan", str(tmp_path), "--format", "json")
    assert r.code == 1
    assert pw not in r.out and b64(pw) not in r.out


def test_plain_base64_text_is_not_a_finding(scanner: Scanner) -> None:
    doc = f"kind: Secret\ndata:\n  greeting: {b64('hello world, this is a plain sentence')}\n".encode()
    assert scanner.scan(doc).matches == []



def test_a_region_is_decoded_once_and_found_again_in_the_next_version(
    ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A history sweep meets the same encoded line in version after version of a file: the
    line is decoded once per scanner, and its secret found at its place in each version."""
    import nhiscan.engine.scanner as scanner_mod

    scanner = Scanner(ruleset)
    regions: list[bytes] = []
    real = scanner_mod.decoded_segments

    def counting(data: bytes, **kw: int) -> list[tuple[int, int, bytes]]:
        regions.append(bytes(data))
        return real(data, **kw)

    monkeypatch.setattr(scanner_mod, "decoded_segments", counting)
    tok = github_classic_pat()
    line = f'      "auth": "{b64("octocat:" + tok)}"'
    v1 = f'{{\n  "auths": {{\n    "ghcr.io": {{\n{line}\n    }}\n  }}\n}}\n'.encode()
    v2 = v1.replace(b'"ghcr.io"', b'"registry.example.test": {},\n    "ghcr.io"')
    found = [scanner.scan(v).matches for v in (v1, v2)]
    assert [[tok in m.secret.decode() for m in ms] for ms in found] == [[True], [True]]
    assert [ms[0].line for ms in found] == [4, 5]
    assert regions == [line.encode()]
