"""The JSON report of the contract."""

from __future__ import annotations

import json
from typing import Any

from nhiscan import __version__
from nhiscan.model import Finding, ScanReport, Stats
from nhiscan.reporters import RenderOptions
from nhiscan.rules import RuleSet


def secret_text(f: Finding, show_secrets: bool) -> str:
    return f.secret.decode("utf-8", "backslashreplace") if show_secrets else f.preview


def finding_dict(f: Finding, options: RenderOptions) -> dict[str, Any]:
    d: dict[str, Any] = {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "secret": secret_text(f, options.show_secrets),
        "secret_sha256": f.secret_sha256,
        "fingerprint": f.fingerprint,
        "entropy": f.entropy,
        "commit": f.commit.sha if f.commit else None,
        "author": f.commit.author if f.commit else None,
        "email": f.commit.email if f.commit else None,
        "date": f.commit.date if f.commit else None,
        "nhi": {
            "id": f.nhi_id,
            "kind": f.nhi_kind.value,
            "provider": f.provider,
        },
        "controls": list(f.controls),
    }
    if f.public_id:
        d["nhi"]["public_id"] = f.public_id
    if f.commit is not None:
        d["commits_count"] = f.commits_count
    if f.repo is not None:
        d["repo"] = f.repo
    return d


def stats_dict(stats: Stats, report: ScanReport) -> dict[str, Any]:
    d: dict[str, Any] = {
        "files": stats.files,
        "bytes": stats.bytes,
        "seconds": stats.seconds,
        "findings": len(report.findings),
        "skipped": dict(sorted(stats.skipped.items())),
        "errors": stats.errors,
        "allowed": stats.allowed,
        "baselined": stats.baselined,
        "timeouts": stats.timeouts,
    }
    if report.source_kind == "git":
        d["commits"] = stats.commits
        d["blobs"] = stats.blobs
    d.update(stats.extra)
    return d


def render_json(report: ScanReport, ruleset: RuleSet, options: RenderOptions) -> str:
    doc = {
        "version": 1,
        "tool": {"name": "nhiscan", "version": __version__},
        "source": report.source_kind,
        "findings": [finding_dict(f, options) for f in report.findings],
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "stats": stats_dict(report.stats, report),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
