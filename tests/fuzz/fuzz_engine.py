"""atheris harness: arbitrary bytes through normalization and both prefilters never crash,
and both prefilters agree.  Run: python tests/fuzz/fuzz_engine.py -runs=100000"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from nhiscan.engine.prefilter import hyperscan_available
    from nhiscan.engine.scanner import Scanner
    from nhiscan.engine.text import normalize
    from nhiscan.rules import load_rules

RULES = load_rules()
SCANNERS = [Scanner(RULES, backend="aho-corasick")]
if hyperscan_available():
    SCANNERS.append(Scanner(RULES, backend="hyperscan"))


def one_input(data: bytes) -> None:
    text = normalize(data)
    if text is None:
        return
    results = []
    for scanner in SCANNERS:
        res = scanner.scan(text)
        for m in res.matches:
            assert 0 <= m.start < m.end <= len(text)
            assert m.line >= 1 and m.column >= 1
        results.append(sorted((m.rule_id, m.start, m.end) for m in res.matches))
    assert all(r == results[0] for r in results), results


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
