"""Where a register's findings come from: a scan just run, or a JSON report read back."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from nhiscan.inventory.build import BuildContext, build_inventory, read_json_report, sighting_from_finding
from nhiscan.inventory.codeowners import CodeOwners, find_codeowners, read_from_disk
from nhiscan.inventory.gitinfo import (
    Blamer,
    HistoryOracle,
    RawSecretProbe,
    ScannerProbe,
    SecretProbe,
    head_commit,
    read_at_head,
    repo_top,
)
from nhiscan.inventory.model import Inventory
from nhiscan.mapping.controls import ControlMapping, load_mapping
from nhiscan.model import ScanReport
from nhiscan.rules import RuleSet


def codeowners_at_head(repo: Path | None, root: Path | None) -> CodeOwners | None:
    """CODEOWNERS as committed at HEAD; outside git, as on disk under ``root``."""
    if repo is not None and head_commit(repo) is not None:
        return find_codeowners(lambda rel: read_at_head(repo, rel))
    if root is not None and root.is_dir():
        return find_codeowners(read_from_disk(root))
    return None


def _prefix(root: Path, top: Path | None) -> str:
    """``root`` relative to the repository top ('' at the top or outside a repository)."""
    if top is None:
        return ""
    try:
        rel = os.path.relpath(root.resolve(), top.resolve())
    except ValueError:
        return ""
    if rel == "." or rel.startswith(".."):
        return ""
    return rel.replace(os.sep, "/")


def inventory_from_scan(
    report: ScanReport,
    *,
    ruleset: RuleSet | None = None,
    mapping: ControlMapping | None = None,
    now: datetime | None = None,
    previous: dict[str, dict[str, Any]] | None = None,
) -> Inventory:
    """The register of a scan just run (raw secrets in memory are used, never kept)."""
    mapping = mapping or load_mapping()
    root = Path(report.root)
    if report.source_kind == "git":
        top: Path | None = root
    else:
        top = repo_top(root if root.is_dir() else root.parent)
    prefix = "" if report.source_kind == "git" else _prefix(root, top)
    sightings = [sighting_from_finding(f, prefix=prefix) for f in report.findings]
    ctx = BuildContext(mapping=mapping, ruleset=ruleset, codeowners=codeowners_at_head(top, root), previous=previous or {})
    if now is not None:
        ctx.now = now
    if report.source_kind == "git" and top is not None:
        probe: SecretProbe = RawSecretProbe(f.secret for f in report.findings)
        ctx.oracle = HistoryOracle(top, probe)
    else:
        ctx.present_default = True
        if report.source_kind == "files" and top is not None and head_commit(top) is not None:
            ctx.blame = Blamer(top)
    head = report.head_commit or (head_commit(top) if top is not None else None)
    warnings = list(report.warnings)
    if report.errors:
        warnings.append(f"{len(report.errors)} input(s) could not be read: the register may be incomplete")
    return build_inventory(
        sightings,
        ctx=ctx,
        source_kind=report.source_kind,
        root=str(top or root),
        head_commit=head,
        repository_uri=report.repository_uri,
        warnings=warnings,
    )


def inventory_from_json(
    path: Path,
    *,
    repo: Path | None,
    probe: SecretProbe | None = None,
    ruleset: RuleSet | None = None,
    mapping: ControlMapping | None = None,
    now: datetime | None = None,
    previous: dict[str, dict[str, Any]] | None = None,
) -> Inventory:
    """The register of a JSON report written earlier (``--from``), without rescanning.

    Paths in the report are taken relative to ``repo`` (the repository the report is about);
    without one, presence at HEAD of a history report is unknown and CODEOWNERS is not read.
    ``probe`` (normally a :class:`ScannerProbe`) recognises the credentials in old blobs by
    their hash, since the report holds no secrets.
    """
    mapping = mapping or load_mapping()
    back = read_json_report(path)
    top = repo_top(repo) if repo is not None else None
    if repo is not None and top is None and (repo / "HEAD").is_file():
        top = repo  # a bare repository
    ctx = BuildContext(mapping=mapping, ruleset=ruleset, codeowners=codeowners_at_head(top, repo), previous=previous or {})
    if now is not None:
        ctx.now = now
    if back.source_kind == "git":
        if top is not None and probe is not None:
            ctx.oracle = HistoryOracle(top, probe)
    else:
        ctx.present_default = True
        if top is not None and head_commit(top) is not None:
            ctx.blame = Blamer(top)
    return build_inventory(
        back.sightings,
        ctx=ctx,
        source_kind=back.source_kind,
        root=str(top or repo or "."),
        head_commit=head_commit(top) if top is not None else None,
    )


__all__ = ["ScannerProbe", "codeowners_at_head", "inventory_from_json", "inventory_from_scan"]
