"""Properties of the engine, checked with hypothesis over random inputs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiscan.engine.scanner import Scanner
from nhiscan.engine.text import normalize
from nhiscan.rules import load_rules
from tests.conftest import BACKENDS

RULES = load_rules()
SINGLE_LINE = [r for r in RULES.rules if not r.multiline and r.examples]
_SCANNERS: dict[str, Scanner] = {}


def scanner_for(backend: str) -> Scanner:
    if backend not in _SCANNERS:
        _SCANNERS[backend] = Scanner(RULES, backend=backend)  # type: ignore[arg-type]
    return _SCANNERS[backend]


# Filler lines: words and punctuation that no rule treats as a secret by themselves.
filler_line = st.text(
    alphabet=st.sampled_from(list("abcdefghij klmnop(){}[];,.:#-+/ \t")), max_size=60
)


def secret_offset(scanner: Scanner, rule_id: str, example: str) -> tuple[int, bytes] | None:
    found = [m for m in scanner.scan(example.encode()).matches if m.rule_id == rule_id]
    return (found[0].start, found[0].secret) if len(found) == 1 else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    before=st.lists(filler_line, max_size=6),
    after=st.lists(filler_line, max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    indent=st.sampled_from(["", "  ", "\t", "# ", "// "]),
)
def test_planted_example_found_at_exact_line_and_column(data, before, after, newline, indent) -> None:
    """A rule's example planted among random lines is found at its exact position."""
    rule = data.draw(st.sampled_from(SINGLE_LINE), label="rule")
    example = data.draw(st.sampled_from(rule.examples), label="example")
    if "\n" in example:
        return
    if "^" in rule.regex:
        indent = ""  # the rule anchors on a line start (htpasswd, .netrc, ...)
    for backend in BACKENDS:
        scanner = scanner_for(backend)
        located = secret_offset(scanner, rule.id, example)
        assert located is not None, f"{rule.id}: example not found alone"
        offset, secret = located
        text = newline.join([*before, indent + example, *after])
        found = [m for m in scanner.scan(text.encode()).matches if m.secret == secret]
        assert found, f"{backend}: {rule.id} planted example not found"
        expected_line = len(before) + 1
        expected_col = len(indent) + len(example.encode()[:offset].decode("utf-8", "replace")) + 1
        assert (found[0].line, found[0].column) == (expected_line, expected_col)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    text = normalize(blob)
    if text is None:
        return
    for backend in BACKENDS:
        res = scanner_for(backend).scan(text)
        for m in res.matches:
            assert 0 <= m.start < m.end <= len(text) and m.line >= 1 and m.column >= 1


@pytest.mark.skipif(len(BACKENDS) < 2, reason="Hyperscan is not installed here")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    lines=st.lists(filler_line | st.binary(max_size=40).map(lambda b: b.decode("latin-1")), max_size=12),
)
def test_hyperscan_and_keyword_prefilters_agree(data, lines) -> None:
    """Both prefilters lead to the same findings, on random text with planted examples."""
    planted = data.draw(st.lists(st.sampled_from(SINGLE_LINE), max_size=4), label="rules")
    for rule in planted:
        pos = data.draw(st.integers(0, len(lines)), label="pos")
        lines.insert(pos, data.draw(st.sampled_from(rule.examples), label="example"))
    text = "\n".join(lines).encode("utf-8", "surrogateescape")
    results = {
        b: sorted((m.rule_id, m.start, m.end) for m in scanner_for(b).scan(text).matches)
        for b in BACKENDS
    }
    assert results["hyperscan"] == results["aho-corasick"]
