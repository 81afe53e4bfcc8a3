"""Baselines: the fingerprints of accepted findings. Versioned, stable, never plaintext.

A baseline file is JSON with one entry per accepted finding, sorted, without timestamps, so it
diffs and merges cleanly. Fingerprints come from rule, path and the secret's hash, so an entry
keeps matching when lines move or the file is reformatted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nhiscan import __version__
from nhiscan.errors import ConfigError
from nhiscan.model import Finding, ScanReport

BASELINE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class BaselineEntry:
    fingerprint: str
    rule_id: str
    path: str
    secret: str
    """Redacted preview only."""


@dataclass(frozen=True, kw_only=True)
class Baseline:
    entries: tuple[BaselineEntry, ...]
    path: Path | None = None

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(e.fingerprint for e in self.entries)


def baseline_from_findings(findings: list[Finding]) -> Baseline:
    unique = {
        f.fingerprint: BaselineEntry(
            fingerprint=f.fingerprint, rule_id=f.rule_id, path=f.path, secret=f.preview
        )
        for f in findings
    }
    entries = sorted(unique.values(), key=lambda e: (e.path, e.rule_id, e.fingerprint))
    return Baseline(entries=tuple(entries))


def dump_baseline(baseline: Baseline) -> str:
    doc = {
        "version": BASELINE_VERSION,
        "tool": {"name": "nhiscan", "version": __version__},
        "findings": [
            {"fingerprint": e.fingerprint, "rule_id": e.rule_id, "path": e.path, "secret": e.secret}
            for e in baseline.entries
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# Upgrade steps: version N -> N+1. Version 0 was the pre-release format: a bare list of
# fingerprint strings.
def _upgrade_0_to_1(doc: Any) -> dict[str, Any]:
    items = doc if isinstance(doc, list) else doc.get("fingerprints", [])
    return {
        "version": 1,
        "findings": [{"fingerprint": fp, "rule_id": "", "path": "", "secret": ""} for fp in items],
    }


_UPGRADES: dict[int, Callable[[Any], dict[str, Any]]] = {0: _upgrade_0_to_1}


def load_baseline(path: Path) -> Baseline:
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON: {exc}") from None
    if not isinstance(doc, (dict, list)):
        raise ConfigError(f"{path}: not a baseline (expected a JSON object written by 'nhiscan baseline')")
    version = doc.get("version", 0) if isinstance(doc, dict) else 0
    if not isinstance(version, int) or version > BASELINE_VERSION or version < 0:
        raise ConfigError(f"{path}: unsupported baseline version {version!r} (this nhiscan reads up to {BASELINE_VERSION})")
    while version < BASELINE_VERSION:
        doc = _UPGRADES[version](doc)
        version = doc["version"]
    raw = doc.get("findings")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: baseline has no 'findings' list")
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise ConfigError(f"{path}: baseline entry #{i + 1} has no fingerprint")
        entries.append(
            BaselineEntry(
                fingerprint=item["fingerprint"],
                rule_id=str(item.get("rule_id", "")),
                path=str(item.get("path", "")),
                secret=str(item.get("secret", "")),
            )
        )
    return Baseline(entries=tuple(entries), path=path)


def apply_baseline(report: ScanReport, baseline: Baseline) -> list[BaselineEntry]:
    """Drop baselined findings from ``report``; return the entries nothing matched any more."""
    known = baseline.fingerprints
    kept = [f for f in report.findings if f.fingerprint not in known]
    report.stats.baselined += len(report.findings) - len(kept)
    seen = {f.fingerprint for f in report.findings}
    report.findings = kept
    return [e for e in baseline.entries if e.fingerprint not in seen]
