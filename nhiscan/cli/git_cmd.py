"""``nhiscan git``: the history of a repository, or the commits of a merge request."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nhiscan.cli.common import common_options, finish, jobs, parse_common, prepare
from nhiscan.errors import NhiscanError

_REV_ARGS = "nhiscan_rev_args"


class _GitCommand(click.Command):
    """Splits off everything after the first ``--``: those are rev-list arguments.

    Click would otherwise take ``nhiscan git -- main..topic`` as the REPO argument.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta[_REV_ARGS] = args[i + 1 :]
            args = args[:i]
        return super().parse_args(ctx, args)


@click.command(
    cls=_GitCommand,
    short_help="Scan the history of a repository (every commit, or a range).",
)
@click.argument("repo", required=False, default=".", type=str)
@click.option(
    "--range",
    "rev_range",
    metavar="REV..REV",
    default=None,
    help="Only what these commits add (e.g. origin/main..HEAD, for a merge request).",
)
@common_options
def git(repo: str, rev_range: str | None, **kwargs: Any) -> int:
    """Scan every blob ever committed on any ref of REPO (default: .).

    Each finding carries the commit that introduced it. With --range, or rev-list arguments
    after --, only the lines those commits add are reported, e.g.
    `nhiscan git --range origin/main..HEAD` or `nhiscan git . -- --since=2024-01-01 main`.
    A shallow clone that lacks a revision of the range is an error naming what to fetch.
    """
    opts = parse_common(kwargs)
    ctx = click.get_current_context()
    extra: list[str] | None = ctx.meta.get(_REV_ARGS)
    rev_args: list[str] | None = None
    if rev_range is not None or extra is not None:
        rev_args = ([rev_range] if rev_range else []) + list(extra or [])
        if not rev_args:
            raise click.UsageError("no revisions after --")
    if not os.path.exists(repo):
        raise NhiscanError(f"{repo}: no such directory")
    if not os.path.isdir(repo):
        raise NhiscanError(f"{repo}: not a directory (give the repository's folder)")
    from nhiscan.sources.git import EarlyListing

    # git lists the objects while the engine is imported and the rules loaded.
    early = EarlyListing(Path(repo)) if rev_args is None else None
    try:
        from nhiscan.history import scan_history
        from nhiscan.scan import config_search_root

        config, ruleset, engine, scanner = prepare(opts, config_search_root([repo]))
        report = scan_history(
            Path(repo),
            config=config,
            ruleset=ruleset,
            scanner=scanner,
            options=engine,
            jobs=jobs(opts),
            rev_args=rev_args,
            progress=sys.stderr.isatty() and not opts.quiet,
            early=early,
        )
    finally:
        if early is not None:
            early.close()
    return finish(report, ruleset, opts)
