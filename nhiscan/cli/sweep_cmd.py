"""``nhiscan sweep``: the histories of many repositories, on Dask, into one report and register."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nhiscan.cli.common import _size, common_options, finish, jobs, parse_common, prepare
from nhiscan.errors import NhiscanError

_INVENTORY_FORMATS = ["json", "csv", "markdown", "html"]
_BY_SUFFIX = {".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


@click.command(short_help="Sweep the histories of many repositories (on Dask) into one report.")
@click.argument("repos", nargs=-1, type=str)
@click.option("--repos", "repos_file", metavar="FILE", default=None, help="Read repositories (paths or clone URLs) from FILE, one a line ('-': stdin).")
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Dask scheduler to run on (tcp://host:8786); default: a local cluster of --jobs processes.")
@click.option("--serial", is_flag=True, help="Run every task in this process, without Dask.")
@click.option("--task-size", type=str, default=None, callback=_size, help="Split repositories into tasks of about this much blob content (default 64MB).")
@click.option("--no-fetch", is_flag=True, help="Sweep cached clones of URLs as they are (clone only what is not cached).")
@click.option("--inventory", "inventory_path", metavar="FILE", default=None, help="Also write the cross-repository NHI register to FILE.")
@click.option("--inventory-format", type=click.Choice(_INVENTORY_FORMATS), default=None, help="Register format (default: from FILE's extension, else json).")
@common_options
def sweep(
    repos: tuple[str, ...],
    repos_file: str | None,
    scheduler: str | None,
    serial: bool,
    task_size: int | None,
    no_fetch: bool,
    inventory_path: str | None,
    inventory_format: str | None,
    **kwargs: Any,
) -> int:
    """Sweep the history of every REPO (a folder, or a clone URL cloned bare into the cache).

    The tasks run on the Dask cluster at --scheduler, or on a local cluster of --jobs worker
    processes; --serial runs them in this process (same report). Each finding carries its
    repository; a repository that is missing or corrupt is reported and the others go on
    (exit 2 at the end). One config applies to every repository: --config, else the current
    folder's. See docs/sweep.md.
    """
    from nhiscan.cache import cache_dir
    from nhiscan.scan import config_search_root
    from nhiscan.sweep import SweepSpec, run_sweep
    from nhiscan.sweep.repos import read_repo_list, resolve_targets
    from nhiscan.sweep.tasks import DEFAULT_TASK_BYTES

    opts = parse_common(kwargs)
    if serial and scheduler is not None:
        raise click.UsageError("--serial and --scheduler exclude each other")
    entries = [(r, Path.cwd()) for r in repos]
    if repos_file is not None:
        entries.extend(read_repo_list(repos_file))
    if not entries:
        raise click.UsageError("no repositories: give REPO arguments or --repos FILE")
    clones = cache_dir()
    if clones is None:
        raise NhiscanError("no folder for the clone cache: set NHISCAN_CACHE_DIR")
    targets = resolve_targets(entries, cache_root=clones, fetch=not no_fetch)

    # The scanner built here also warms the compiled-database cache the workers load.
    config, ruleset, engine, _ = prepare(opts, config_search_root(["."]))
    spec = SweepSpec(
        ruleset=ruleset,
        config=config,
        options=engine,
        presence=inventory_path is not None,
        task_bytes=task_size or DEFAULT_TASK_BYTES,
    )
    outcome = run_sweep(
        targets,
        spec,
        engine="serial" if serial else "dask",
        scheduler=scheduler,
        workers=jobs(opts),
        progress=sys.stderr.isatty() and not opts.quiet,
    )
    code = finish(outcome.report, ruleset, opts)
    if inventory_path is not None:
        _write_inventory(outcome, ruleset, inventory_path, inventory_format)
    return code


def _write_inventory(outcome: Any, ruleset: Any, path: str, fmt: str | None) -> None:
    from nhiscan.cli.output import write_output
    from nhiscan.inventory.render import InventoryFormat, inventory_renderer_for
    from nhiscan.mapping.controls import load_mapping
    from nhiscan.sweep.inventory import sweep_inventory

    if fmt is None:
        fmt = _BY_SUFFIX.get(os.path.splitext(path)[1].lower(), "json")
    mapping = load_mapping()
    inv = sweep_inventory(outcome.report, outcome.results, ruleset=ruleset, mapping=mapping)
    write_output(inventory_renderer_for(InventoryFormat(fmt))(inv, mapping), path)
