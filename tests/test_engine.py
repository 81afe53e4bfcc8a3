"""The engine on raw bytes: exact positions, encodings, line endings, allow directives, limits."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

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
