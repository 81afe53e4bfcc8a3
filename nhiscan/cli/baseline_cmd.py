"""``nhiscan baseline``: write the current findings' fingerprints to a baseline file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nhiscan.cli.common import common_options, jobs, parse_common, prepare, scan_files
from nhiscan.errors import ExitCode


@click.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--git", "git_repo", type=str, default=None, help="Baseline the history of this repository instead of files.")
@click.option("--no-ignore", is_flag=True, help="Also scan what git ignores.")
@common_options
def baseline(paths: tuple[str, ...], git_repo: str | None, no_ignore: bool, **kwargs: Any) -> int:
    """Write a baseline of the current findings (fingerprints and redacted previews only).

    Later scans given --baseline FILE report only findings not in it. Exit 0 once written.
    """
    from nhiscan.baseline import baseline_from_findings, dump_baseline
    from nhiscan.cli.output import print_diagnostics, write_output
    from nhiscan.scan import config_search_root

    opts = parse_common(kwargs)
    if opts.output is None:
        raise click.UsageError("baseline needs -o/--output FILE")
    if git_repo is not None:
        if paths:
            raise click.UsageError("give either PATHS or --git REPO, not both")
        from nhiscan.history import scan_history

        config, ruleset, engine, scanner = prepare(opts, config_search_root([git_repo]))
        report = scan_history(
            Path(git_repo), config=config, ruleset=ruleset, scanner=scanner, options=engine,
            jobs=jobs(opts), rev_args=None, progress=False,
        )
    else:
        report, _ = scan_files(opts, paths, no_ignore=no_ignore)
    write_output(dump_baseline(baseline_from_findings(report.findings)), opts.output)
    print_diagnostics(report, quiet=opts.quiet, verbose=opts.verbose)
    if not opts.quiet:
        click.echo(f"nhiscan: wrote {len(report.findings)} entries to {opts.output}", err=True)
    return ExitCode.ERROR if report.errors else ExitCode.CLEAN
