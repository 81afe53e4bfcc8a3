"""``nhiscan scan``: files and folders on disk, or the staged changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from nhiscan.cli.common import common_options, finish, jobs, parse_common, prepare
from nhiscan.errors import NhiscanError

@click.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--staged", is_flag=True, help="Scan what the next commit would add (for pre-commit).")
@click.option("--no-ignore", is_flag=True, help="Also scan what git ignores.")
@common_options
def scan(paths: tuple[str, ...], staged: bool, no_ignore: bool, **kwargs: Any) -> int:
    """Scan files and folders on disk (default: the current folder)."""
    from nhiscan.scan import config_search_root, scan_paths

    opts = parse_common(kwargs)
    if staged:
        if paths and len(paths) > 1:
            raise click.UsageError("--staged takes at most one repository path")
        from nhiscan.history import scan_staged

        repo = Path(paths[0]) if paths else Path(".")
        config, ruleset, engine, scanner = prepare(opts, config_search_root([str(repo)]))
        report = scan_staged(repo, config=config, ruleset=ruleset, scanner=scanner)
        return finish(report, ruleset, opts)
    path_list = list(paths) or ["."]
    for p in path_list:
        if not os.path.lexists(p):
            raise NhiscanError(f"{p}: no such file or directory")
    config, ruleset, engine, scanner = prepare(opts, config_search_root(path_list))
    report = scan_paths(
        path_list,
        config=config,
        ruleset=ruleset,
        scanner=scanner,
        options=engine,
        jobs=jobs(opts),
        no_ignore=no_ignore,
        max_file_size=opts.max_file_size,
    )
    return finish(report, ruleset, opts)


