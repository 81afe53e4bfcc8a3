"""``nhiscan`` commands. Parse, build a Config, call the library, render, return an exit code."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import click

from nhiscan import __version__
from nhiscan.errors import ExitCode, NhiscanError

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
    jobs: int | None
    max_file_size: int | None
    show_secrets: bool
    fail_on: str
    engine: str
    color: bool | None
    quiet: bool
    verbose: bool


def _common(kwargs: dict[str, Any]) -> CommonOptions:
    names = CommonOptions.__dataclass_fields__.keys()
    return CommonOptions(**{k: kwargs.pop(k) for k in list(names)})


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nhiscan")
def cli() -> None:
    """Find hard-coded credentials and keep an audited inventory of non-human identities."""


# ---- shared plumbing -------------------------------------------------------------------------

def _prepare(opts: CommonOptions, search_root: Path) -> tuple[Any, Any, Any, Any]:
    from nhiscan.config import load_config
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner

    config = load_config(opts.config_path, search_root=search_root)
    ruleset = build_ruleset(config)
    engine = EngineOptions(backend=opts.engine, regex_timeout=config.regex_timeout)  # type: ignore[arg-type]
    scanner = build_scanner(ruleset, engine)
    return config, ruleset, engine, scanner


def _finish(report: Any, ruleset: Any, opts: CommonOptions) -> int:
    """Apply the baseline, render, write, and choose the exit code."""
    from nhiscan.cli.output import print_diagnostics, write_output
    from nhiscan.model import Severity
    from nhiscan.reporters import RenderOptions, ScanFormat, renderer_for

    if opts.baseline_path:
        from nhiscan.baseline import apply_baseline, load_baseline

        apply_baseline(report, load_baseline(Path(opts.baseline_path)))
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
    if report.errors or report.incomplete:
        return ExitCode.ERROR
    threshold = Severity(opts.fail_on).rank
    if any(f.severity.rank >= threshold for f in report.findings):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


def _jobs(opts: CommonOptions) -> int:
    return opts.jobs or os.cpu_count() or 1


# ---- scan -----------------------------------------------------------------------------------

@cli.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--staged", is_flag=True, help="Scan what the next commit would add (for pre-commit).")
@click.option("--no-ignore", is_flag=True, help="Also scan what git ignores.")
@common_options
def scan(paths: tuple[str, ...], staged: bool, no_ignore: bool, **kwargs: Any) -> int:
    """Scan files and folders on disk (default: the current folder)."""
    from nhiscan.scan import config_search_root, scan_paths

    opts = _common(kwargs)
    if staged:
        if paths and len(paths) > 1:
            raise click.UsageError("--staged takes at most one repository path")
        from nhiscan.history import scan_staged

        repo = Path(paths[0]) if paths else Path(".")
        config, ruleset, engine, scanner = _prepare(opts, config_search_root([str(repo)]))
        report = scan_staged(repo, config=config, ruleset=ruleset, scanner=scanner)
        return _finish(report, ruleset, opts)
    path_list = list(paths) or ["."]
    for p in path_list:
        if not os.path.lexists(p):
            raise NhiscanError(f"{p}: no such file or directory")
    config, ruleset, engine, scanner = _prepare(opts, config_search_root(path_list))
    report = scan_paths(
        path_list,
        config=config,
        ruleset=ruleset,
        scanner=scanner,
        options=engine,
        jobs=_jobs(opts),
        no_ignore=no_ignore,
        max_file_size=opts.max_file_size,
    )
    return _finish(report, ruleset, opts)


# ---- rules ----------------------------------------------------------------------------------

@cli.group()
def rules() -> None:
    """Inspect and test the loaded rules."""


@rules.command("list")
@click.option("--config", "config_path", type=str, default=None, help="Config file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def rules_list(config_path: str | None, fmt: str) -> int:
    """List the rules in force (built-in packs plus the config's)."""
    import json

    from nhiscan.config import load_config
    from nhiscan.scan import build_ruleset

    config = load_config(config_path, search_root=Path.cwd())
    ruleset = build_ruleset(config)
    if fmt == "json":
        doc = [
            {"id": r.id, "name": r.name, "provider": r.provider, "nhi_kind": r.nhi_kind.value,
             "severity": r.severity.value, "confidence": r.confidence.value, "source": r.source}
            for r in ruleset.rules
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for r in ruleset.rules:
            click.echo(f"{r.id:<40} {r.severity.value:<8} {r.provider:<24} {r.name}")
        providers = len({r.provider for r in ruleset.rules})
        click.echo(f"{len(ruleset)} rules, {providers} providers", err=True)
    return ExitCode.CLEAN


@rules.command("test")
@click.argument("packs", nargs=-1, type=str)
@click.option("--config", "config_path", type=str, default=None, help="Config file.")
@click.option("--engine", type=click.Choice(["auto", "hyperscan", "aho-corasick"]), default="auto")
def rules_test(packs: tuple[str, ...], config_path: str | None, engine: str) -> int:
    """Run the rules' examples and negative examples (of PACKS, else of every loaded rule)."""
    from nhiscan.config import load_config
    from nhiscan.engine.scanner import Scanner
    from nhiscan.rules import builtin_rules_dir, load_pack, load_rules
    from nhiscan.selftest import check_rule

    config = load_config(config_path, search_root=Path.cwd())
    builtin_dir = builtin_rules_dir().resolve()
    extra = [Path(p) for p in packs if Path(p).resolve().parent != builtin_dir]
    for p in packs:
        load_pack(Path(p))  # validates and names a bad pack
    ruleset = load_rules([*config.extend, *extra], disable=config.disable)
    scanner = Scanner(ruleset, backend=engine)  # type: ignore[arg-type]
    wanted = {Path(p).name for p in packs}
    selected = [
        r for r in ruleset.rules
        if not packs or Path(r.source).name in wanted
    ]
    failures = []
    examples = 0
    for r in selected:
        examples += len(r.examples) + len(r.negative_examples)
        failures.extend(check_rule(scanner, r))
    for f in failures:
        click.echo(f"FAIL {f}")
    click.echo(
        f"{len(selected)} rules, {examples} examples: "
        f"{examples - len(failures)} passed, {len(failures)} failed ({scanner.backend})"
    )
    return ExitCode.FINDINGS if failures else ExitCode.CLEAN


# ---- entry point ----------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every user error is one line and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = cli.main(args=args, prog_name="nhiscan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("nhiscan: interrupted\n")
        return ExitCode.INTERRUPTED
    except click.UsageError as exc:
        hint = f" (see 'nhiscan {exc.ctx.command_path.split(' ', 1)[1]} --help')" if exc.ctx and " " in exc.ctx.command_path else ""
        sys.stderr.write(f"nhiscan: error: {exc.format_message()}{hint}\n")
        return ExitCode.ERROR
    except click.ClickException as exc:
        sys.stderr.write(f"nhiscan: error: {exc.format_message()}\n")
        return ExitCode.ERROR
    except NhiscanError as exc:
        sys.stderr.write(f"nhiscan: error: {exc}\n")
        return ExitCode.ERROR
    except KeyboardInterrupt:
        sys.stderr.write("nhiscan: interrupted\n")
        return ExitCode.INTERRUPTED
    except MemoryError:
        sys.stderr.write("nhiscan: error: out of memory (lower --jobs or --max-file-size)\n")
        return ExitCode.ERROR
    except Exception as exc:  # never a traceback for the user; NHISCAN_DEBUG=1 shows it
        if os.environ.get("NHISCAN_DEBUG"):
            raise
        sys.stderr.write(f"nhiscan: internal error: {type(exc).__name__} (set NHISCAN_DEBUG=1 for details)\n")
        return ExitCode.ERROR
    return int(rv) if isinstance(rv, int) else ExitCode.CLEAN


def run() -> None:
    sys.exit(main())
