"""``nhiscan scan``: files and folders on disk, or the staged changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nhiscan.cli.common import common_options, finish, parse_common, prepare, scan_files

@click.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--staged", is_flag=True, help="Scan what the next commit would add (for pre-commit).")
@click.option("--no-ignore", is_flag=True, help="Also scan what git ignores.")
@common_options
def scan(paths: tuple[str, ...], staged: bool, no_ignore: bool, **kwargs: Any) -> int:
    """Scan files and folders on disk (default: the current folder)."""
    opts = parse_common(kwargs)
    if staged:
        if paths and len(paths) > 1:
            raise click.UsageError("--staged takes at most one repository path")
        from nhiscan.history import scan_staged
        from nhiscan.sources.git import open_repo

        # The repository's top is where the config is looked for (one git call fewer).
        info = open_repo(Path(paths[0]) if paths else Path("."))
        config, ruleset, engine, scanner = prepare(opts, info.root)
        report = scan_staged(info, config=config, ruleset=ruleset, scanner=scanner)
        return finish(report, ruleset, opts)
    report, ruleset = scan_files(opts, paths, no_ignore=no_ignore)
    return finish(report, ruleset, opts)


