"""Options and plumbing shared by the scanning commands."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from nhiscan.errors import ExitCode

F = TypeVar("F", bound=Callable[..., Any])

_SEVERITIES = ["low", "medium", "high", "critical"]


def _size(_ctx: Any, _param: Any, value: str | None) -> int | None:
    if value is None:
        return None
    from nhiscan.config import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def common_options(f: F) -> F:
    """Options every scanning command shares."""
    decorators = [
        click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True, help="Report format."),
        click.option("-o", "--output", type=str, default=None, help="Write the report to FILE (default: stdout)."),
        click.option("--config", "config_path", type=str, default=None, help="Config file (default: .nhiscan.toml or [tool.nhiscan] at the repository root)."),
        click.option("--baseline", "baseline_path", type=str, default=None, help="Do not report findings whose fingerprint is in this baseline."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores)."),
        click.option("--max-file-size", type=str, default=None, callback=_size, help="Skip files larger than this (bytes or 512KB/10MB/1GB; default 10MB)."),
        click.option("--show-secrets", is_flag=True, help="Print raw secret values (off by default)."),
        click.option("--allow-unreadable", is_flag=True, help="Unreadable inputs are named on stderr but do not make the exit code 2."),
        click.option("--report-unused", is_flag=True, help="With --baseline: warn about baseline entries that no longer match."),
        click.option("--fail-on", type=click.Choice(_SEVERITIES), default="low", show_default=True, help="Exit 1 only for findings at or above this severity."),
        click.option("--engine", type=click.Choice(["auto", "hyperscan", "aho-corasick"]), default="auto", show_default=True, help="Prefilter implementation."),
        click.option("--color/--no-color", default=None, help="Colour the text report (default: on a terminal)."),
        click.option("-q", "--quiet", is_flag=True, help="Only findings and errors."),
        click.option("--verbose", is_flag=True, help="Name every skipped file and show more detail."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


@dataclass(frozen=True, kw_only=True)
class CommonOptions:
    fmt: str
    output: str | None
    config_path: str | None
    baseline_path: str | None
    report_unused: bool
    allow_unreadable: bool
    jobs: int | None
    max_file_size: int | None
    show_secrets: bool
    fail_on: str
    engine: str
    color: bool | None
    quiet: bool
    verbose: bool


def parse_common(kwargs: dict[str, Any]) -> CommonOptions:
    names = CommonOptions.__dataclass_fields__.keys()
    return CommonOptions(**{k: kwargs.pop(k) for k in list(names)})


def prepare(opts: CommonOptions, search_root: Path) -> tuple[Any, Any, Any, Any]:
    return prepare_engine(
        config_path=opts.config_path, engine=opts.engine, max_file_size=opts.max_file_size,
        search_root=search_root,
    )


def prepare_engine(
    *, config_path: str | None, engine: str, max_file_size: int | None, search_root: Path
) -> tuple[Any, Any, Any, Any]:
    """(config, rule set, engine options, scanner) from the config file and the command line."""
    from nhiscan.config import load_config
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner

    config = load_config(config_path, search_root=search_root)
    if max_file_size is not None:  # the command line wins over the config file
        import dataclasses

        config = dataclasses.replace(config, max_file_size=max_file_size)
    ruleset = build_ruleset(config)
    options = EngineOptions(backend=engine, regex_timeout=config.regex_timeout)  # type: ignore[arg-type]
    scanner = build_scanner(ruleset, options)
    return config, ruleset, options, scanner


def finish(report: Any, ruleset: Any, opts: CommonOptions) -> int:
    """Apply the baseline, render, write, and choose the exit code."""
    from nhiscan.cli.output import print_diagnostics, write_output
    from nhiscan.model import Severity
    from nhiscan.reporters import RenderOptions, ScanFormat, renderer_for

    if opts.baseline_path:
        from nhiscan.baseline import apply_baseline, load_baseline

        unused = apply_baseline(report, load_baseline(Path(opts.baseline_path)))
        if opts.report_unused:
            for entry in unused:
                report.warnings.append(
                    f"baseline entry {entry.fingerprint[:16]} ({entry.rule_id} in {entry.path}) no longer matches"
                )
    if report.stats.timeouts:
        # Part of the input was not checked by a rule: never a clean exit (the report holds
        # what was found; the warnings name the rule and file).
        report.incomplete = True
    color = opts.color
    if color is None:
        color = opts.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    render = renderer_for(ScanFormat(opts.fmt))
    text = render(
        report,
        ruleset,
        RenderOptions(show_secrets=opts.show_secrets, color=bool(color), quiet=opts.quiet, verbose=opts.verbose),
    )
    write_output(text, opts.output)
    print_diagnostics(report, quiet=opts.quiet, verbose=opts.verbose)
    if report.stats.timeouts:
        sys.stderr.write(
            f"nhiscan: error: {report.stats.timeouts} regex time bound(s) exceeded; "
            "part of the input was not fully checked (see the warnings; raise scan.regex_timeout)\n"
        )
    if (report.errors and not opts.allow_unreadable) or report.incomplete:
        return ExitCode.ERROR
    threshold = Severity(opts.fail_on).rank
    if any(f.severity.rank >= threshold for f in report.findings):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


def scan_files(opts: CommonOptions, paths: tuple[str, ...], *, no_ignore: bool) -> tuple[Any, Any]:
    """The files-and-folders scan shared by ``scan`` and ``baseline``: (report, rule set).

    A missing path is a SourceError from the listing (one line, exit 2)."""
    from nhiscan.scan import config_search_root, scan_paths

    path_list = list(paths) or ["."]
    config, ruleset, engine, scanner = prepare(opts, config_search_root(path_list))
    report = scan_paths(
        path_list, config=config, ruleset=ruleset, scanner=scanner, options=engine,
        jobs=jobs(opts), no_ignore=no_ignore,
    )
    return report, ruleset


def jobs(opts: CommonOptions) -> int:
    return opts.jobs or os.cpu_count() or 1


