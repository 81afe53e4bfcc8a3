"""Human-readable report: one block per finding and a summary line."""

from __future__ import annotations

from nhiscan.model import ScanReport, Severity
from nhiscan.reporters import RenderOptions
from nhiscan.reporters.json import secret_text
from nhiscan.rules import RuleSet

_COLORS = {
    Severity.CRITICAL: "\x1b[1;31m",
    Severity.HIGH: "\x1b[31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def render_text(report: ScanReport, ruleset: RuleSet, options: RenderOptions) -> str:
    c = options.color
    lines: list[str] = []
    for f in report.findings:
        sev = f.severity.value
        if c:
            sev = f"{_COLORS[f.severity]}{sev}{_RESET}"
        where = f"{f.path}:{f.line}:{f.column}"
        if c:
            where = f"{_BOLD}{where}{_RESET}"
        repo = f"{f.repo}: " if f.repo else ""
        lines.append(f"{repo}{where}: {f.rule_id} [{sev}] {f.rule_name}: {secret_text(f, options.show_secrets)}")
        if f.commit is not None:
            extra = f" (in {f.commits_count} commits)" if f.commits_count > 1 else ""
            detail = f"    commit {f.commit.sha[:12]} by {f.commit.author} <{f.commit.email}> on {f.commit.date}{extra}"
            lines.append(f"{_DIM}{detail}{_RESET}" if c else detail)
        if options.verbose:
            lines.append(f"    nhi {f.nhi_id} ({f.nhi_kind.value}, {f.provider}); controls {', '.join(f.controls)}")
    if not options.quiet:
        s = report.stats
        what = f"{s.commits} commits, {s.blobs} blobs" if report.source_kind == "git" else f"{s.files} files"
        parts = [
            f"scanned {what} ({human_bytes(s.bytes)}) in {s.seconds:.2f} s",
            f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}",
        ]
        skipped = sum(s.skipped.values())
        if skipped:
            parts.append(f"{skipped} skipped")
        if s.allowed:
            parts.append(f"{s.allowed} allowed")
        if s.baselined:
            parts.append(f"{s.baselined} in baseline")
        if s.errors:
            parts.append(f"{s.errors} unreadable")
        lines.append("; ".join(parts))
    return "\n".join(lines) + ("\n" if lines else "")
