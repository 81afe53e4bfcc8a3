"""The cross-repository NHI register: one entry per credential, whichever repositories hold it.

The register is built by ``nhiscan.inventory`` from the sweep's findings, which carry their
repository: its grouping by ``nhi_id`` makes a credential found in three repositories one
entry whose locations name each repository, and its reuse count (distinct files, per
repository) and OWASP NHI9 (reuse) follow. Whether a credential is still at HEAD was decided
on the workers, repository by repository (:func:`nhiscan.sweep.tasks.finish_repo`);
:class:`SweepPresence` answers the builder from those answers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from nhiscan.inventory.build import BuildContext, build_inventory, parse_date, sighting_from_finding
from nhiscan.inventory.gitinfo import Presence
from nhiscan.inventory.model import Inventory
from nhiscan.mapping.controls import ControlMapping
from nhiscan.model import ScanReport
from nhiscan.rules import RuleSet
from nhiscan.sweep.tasks import RepoResult


class SweepPresence:
    """A presence oracle over many repositories: present if at HEAD in any of them."""

    def __init__(self, results: Iterable[tuple[str, RepoResult]]) -> None:
        self._by_hash: dict[str, list[tuple[str, Presence]]] = {}
        for name, result in results:
            for h, p in result.presence.items():
                self._by_hash.setdefault(h, []).append((name, p))

    def presence(self, secret_sha256: str, paths: Iterable[str]) -> Presence:
        """``paths`` are ignored: each repository answered for its own paths already."""
        answers = self._by_hash.get(secret_sha256, [])
        present = [(name, p) for name, p in answers if p.present_at_head]
        if present:
            heads = [p.last_seen for _, p in present if p.last_seen is not None]
            return Presence(
                present_at_head=True,
                head_paths=tuple(sorted(f"{name}:{path}" for name, p in present for path in p.head_paths)),
                removed_in=None,
                last_seen=max(heads, key=lambda s: _date(s.date)) if heads else None,
            )
        removed = [p for _, p in answers if p.removed_in is not None]
        if not removed:
            return Presence(present_at_head=False, head_paths=(), removed_in=None, last_seen=None)
        latest = max(removed, key=lambda p: _date(p.removed_in.date if p.removed_in else None))
        return Presence(present_at_head=False, head_paths=(), removed_in=latest.removed_in, last_seen=latest.last_seen)


def _date(text: str | None) -> datetime:
    value = parse_date(text)
    return value if value is not None else datetime.min.replace(tzinfo=timezone.utc)


def sweep_inventory(
    report: ScanReport,
    results: list[tuple[str, RepoResult]],
    *,
    ruleset: RuleSet,
    mapping: ControlMapping,
    now: datetime | None = None,
) -> Inventory:
    """The register of a sweep (after the baseline was applied to ``report``)."""
    ctx = BuildContext(mapping=mapping, ruleset=ruleset, oracle=SweepPresence(results))
    if now is not None:
        ctx.now = now
    warnings = list(report.warnings)
    if report.errors:
        warnings.append(f"{len(report.errors)} input(s) could not be read: the register may be incomplete")
    names = [name for name, _ in results]
    return build_inventory(
        (sighting_from_finding(f) for f in report.findings),
        ctx=ctx,
        source_kind="sweep",
        root=f"{len(names)} repositor{'y' if len(names) == 1 else 'ies'}",
        warnings=warnings,
    )
