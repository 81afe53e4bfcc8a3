"""Org-wide sweeps: many repositories' histories, one report and one NHI register.

Flow: repositories (:mod:`.repos`) -> tasks (:mod:`.tasks`: plan, blob ranges, finish) run by
an engine (:mod:`.engines`: in this process, or Dask distributed) under a driver
(:mod:`.driver`) that merges their results in a fixed order -> one ``ScanReport`` (each finding
carries ``repo``) -> optionally the cross-repository register (:mod:`.inventory`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nhiscan.model import ScanReport
from nhiscan.sweep.driver import SweepDriver
from nhiscan.sweep.repos import RepoTarget
from nhiscan.sweep.tasks import RepoResult, SweepSpec


@dataclass(frozen=True, kw_only=True)
class SweepOutcome:
    report: ScanReport
    results: list[tuple[str, RepoResult]]
    """(repository name, its result), in the order given: for the register."""


def run_sweep(
    targets: list[RepoTarget],
    spec: SweepSpec,
    *,
    engine: str,
    scheduler: str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> SweepOutcome:
    """Sweep ``targets`` with ``engine`` ``serial`` (this process) or ``dask``.

    For Dask, ``scheduler`` is the address of a running scheduler; None starts a local
    cluster of ``workers`` processes for this sweep.
    """
    from nhiscan.sweep import engines

    started = time.monotonic()
    driver = SweepDriver(spec.key, targets, progress=progress)
    try:
        if engine == "serial":
            engines.run_serial(driver, spec)
            nworkers = 1
        else:
            with engines.dask_client(scheduler, workers=workers) as client:
                nworkers = engines.worker_count(client)
                engines.run_dask(driver, spec, client)
    finally:
        driver.progress.close()
    report = driver.report(started=started, engine=engine, workers=nworkers)
    return SweepOutcome(report=report, results=driver.results())


__all__ = ["RepoTarget", "SweepOutcome", "SweepSpec", "run_sweep"]
