"""Every rule's examples yield one finding of that rule; its negative examples none."""

from __future__ import annotations

import pytest

from nhiscan.rules import load_rules
from nhiscan.selftest import check_rule

RULES = load_rules().rules


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_examples(rule, scanners) -> None:
    assert len(rule.examples) >= 2, f"{rule.id}: built-in rules carry at least two examples"
    assert len(rule.negative_examples) >= 1, f"{rule.id}: built-in rules carry negative examples"
    for backend, scanner in scanners.items():
        failures = check_rule(scanner, rule)
        assert not failures, f"{backend}: " + "; ".join(map(str, failures))


def test_rule_ids_unique_and_kebab() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))


def test_enough_rules_for_issue_2() -> None:
    assert len(RULES) >= 80
