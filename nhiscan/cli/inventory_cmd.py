"""``nhiscan inventory``: the NHI register, from a scan or from a JSON report read back.

Exits 0 once the register is written (it is a report, not a gate), 2 on error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nhiscan.errors import ExitCode, NhiscanError


@click.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--git", "git_repo", type=str, default=None, metavar="REPO", help="Build the register from the history of this repository.")
@click.option("--from", "from_report", type=str, default=None, metavar="REPORT.json", help="Build it from a JSON report written by 'nhiscan scan/git --format json', without rescanning.")
@click.option("--repo", type=str, default=None, metavar="DIR", help="With --from: the repository the report is about (for CODEOWNERS and HEAD; default: the current one).")
@click.option("--previous", type=str, default=None, metavar="REGISTER.json", help="Carry people's columns and status over from an earlier JSON register.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "markdown", "html"]), default="json", show_default=True, help="Register format.")
@click.option("-o", "--output", type=str, default=None, help="Write the register to FILE (default: stdout).")
@click.option("--config", "config_path", type=str, default=None, help="Config file (default: .nhiscan.toml or [tool.nhiscan] at the repository root).")
@click.option("--baseline", "baseline_path", type=str, default=None, help="Leave out findings whose fingerprint is in this baseline.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--max-file-size", type=str, default=None, help="Skip files larger than this (bytes or 512KB/10MB/1GB; default 10MB).")
@click.option("--no-ignore", is_flag=True, help="Also scan what git ignores (PATH sources).")
@click.option("--engine", type=click.Choice(["auto", "hyperscan", "aho-corasick"]), default="auto", show_default=True, help="Prefilter implementation.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--verbose", is_flag=True, help="Name every skipped file.")
def inventory(
    paths: tuple[str, ...],
    git_repo: str | None,
    from_report: str | None,
    repo: str | None,
    previous: str | None,
    fmt: str,
    output: str | None,
    config_path: str | None,
    baseline_path: str | None,
    jobs: int | None,
    max_file_size: str | None,
    no_ignore: bool,
    engine: str,
    quiet: bool,
    verbose: bool,
) -> int:
    """Build the NHI register: one entry per distinct credential, with all its places.

    Sources: PATH ... (files on disk, default '.'), --git REPO (its history), or
    --from REPORT.json (a JSON report read back). The register never holds a raw secret.
    """
    from nhiscan.cli.output import print_diagnostics, write_output
    from nhiscan.config import parse_size
    from nhiscan.inventory.build import load_previous
    from nhiscan.inventory.render import InventoryFormat, inventory_renderer_for
    from nhiscan.mapping.controls import load_mapping
    from nhiscan.cli.common import prepare_engine
    from nhiscan.scan import config_search_root

    chosen = [name for name, given in (("PATH", bool(paths)), ("--git", git_repo is not None), ("--from", from_report is not None)) if given]
    if len(chosen) > 1:
        raise click.UsageError(f"give one source: {' or '.join(chosen)}, not both")
    if repo is not None and from_report is None:
        raise click.UsageError("--repo goes with --from")
    try:
        size = parse_size(max_file_size) if max_file_size is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-file-size") from None
    workers = jobs or os.cpu_count() or 1
    mapping = load_mapping()
    prev = load_previous(Path(previous)) if previous else None

    def prepare(search_root: Path) -> tuple[Any, Any, Any, Any]:
        return prepare_engine(config_path=config_path, engine=engine, max_file_size=size, search_root=search_root)

    report = None
    if from_report is not None:
        from nhiscan.inventory.gitinfo import ScannerProbe
        from nhiscan.inventory.sources import inventory_from_json

        repo_path = Path(repo) if repo is not None else Path(".")
        if repo is not None and not repo_path.is_dir():
            raise NhiscanError(f"{repo}: no such directory")
        _config, ruleset, _options, scanner = prepare(config_search_root([str(repo_path)]))
        inv = inventory_from_json(
            Path(from_report), repo=repo_path, probe=ScannerProbe(scanner), ruleset=ruleset, mapping=mapping, previous=prev,
        )
    else:
        from nhiscan.inventory.sources import inventory_from_scan

        if git_repo is not None:
            from nhiscan.history import scan_history

            repo_path = Path(git_repo)
            if not repo_path.is_dir():
                raise NhiscanError(f"{git_repo}: no such directory")
            config, ruleset, options, scanner = prepare(config_search_root([git_repo]))
            report = scan_history(
                repo_path, config=config, ruleset=ruleset, scanner=scanner, options=options,
                jobs=workers, rev_args=None, progress=sys.stderr.isatty() and not quiet,
            )
        else:
            from nhiscan.scan import scan_paths

            path_list = list(paths) or ["."]
            config, ruleset, options, scanner = prepare(config_search_root(path_list))
            report = scan_paths(
                path_list, config=config, ruleset=ruleset, scanner=scanner, options=options,
                jobs=workers, no_ignore=no_ignore,
            )
        if baseline_path:
            from nhiscan.baseline import apply_baseline, load_baseline

            apply_baseline(report, load_baseline(Path(baseline_path)))
        inv = inventory_from_scan(report, ruleset=ruleset, mapping=mapping, previous=prev)
    text = inventory_renderer_for(InventoryFormat(fmt))(inv, mapping)
    write_output(text, output)
    if report is not None:
        print_diagnostics(report, quiet=quiet, verbose=verbose)
        if report.errors or report.incomplete:
            return ExitCode.ERROR
    return ExitCode.CLEAN
