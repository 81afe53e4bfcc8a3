"""Run rules' own examples: each example yields one finding of its rule, each negative none."""

from __future__ import annotations

from dataclasses import dataclass

from nhiscan.engine.scanner import Scanner
from nhiscan.engine.text import normalize
from nhiscan.model import Rule


@dataclass(frozen=True, kw_only=True)
class ExampleFailure:
    rule_id: str
    source: str
    kind: str
    """``example`` or ``negative_example``."""
    index: int
    problem: str

    def __str__(self) -> str:
        return f"{self.source}:{self.rule_id}: {self.kind} #{self.index + 1}: {self.problem}"


def check_rule(scanner: Scanner, rule: Rule) -> list[ExampleFailure]:
    failures = []
    for i, ex in enumerate(rule.examples):
        data = normalize(ex.encode("utf-8")) or b""
        found = [m for m in scanner.scan(data).matches if m.rule_id == rule.id]
        if len(found) != 1:
            others = sorted({m.rule_id for m in scanner.scan(data).matches} - {rule.id})
            hint = f" (reported instead: {', '.join(others)})" if others else ""
            failures.append(
                ExampleFailure(
                    rule_id=rule.id, source=rule.source, kind="example", index=i,
                    problem=f"expected 1 finding, got {len(found)}{hint}",
                )
            )
    for i, ex in enumerate(rule.negative_examples):
        data = normalize(ex.encode("utf-8")) or b""
        found = [m for m in scanner.scan(data).matches if m.rule_id == rule.id]
        if found:
            failures.append(
                ExampleFailure(
                    rule_id=rule.id, source=rule.source, kind="negative_example", index=i,
                    problem=f"expected no finding, got {len(found)}",
                )
            )
    return failures
