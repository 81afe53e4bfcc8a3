"""Running a sweep's jobs: in this process one after another, or as tasks on Dask distributed.

Both engines feed the same :class:`~nhiscan.sweep.driver.SweepDriver`, so they produce the
same report. Dask is imported only here and only for a Dask run (``nhiscan[distributed]``).

Fault behaviour on Dask: a task whose worker dies is rescheduled by the scheduler on another
worker (up to ``distributed.scheduler.allowed-failures`` deaths, default 3, then it fails
with ``KilledWorker``); a task that raises is retried ``retries`` times. A task that still
fails becomes an error of its repository (exit 2) while the other repositories go on.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from nhiscan.errors import NhiscanError
from nhiscan.sweep import tasks
from nhiscan.sweep.driver import Job, SweepDriver

if TYPE_CHECKING:
    from distributed import Client

RETRIES = 2
_PRIORITY = {"plan": 20, "finish": 10, "range": 0}
"""Plans first (they discover the work), finishes before more ranges (results land early)."""


def run_serial(driver: SweepDriver, spec: tasks.SweepSpec) -> None:
    """Every job in this process, in order: the reference a distributed sweep must equal."""
    tasks.install(spec)
    try:
        queue = deque(driver.start())
        while queue:
            job = queue.popleft()
            queue.extend(driver.done(job, job.fn(*job.args)))
    finally:
        tasks.uninstall(spec.key)


# ---- Dask ---------------------------------------------------------------------------------------

def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise NhiscanError(
            "sweeping on Dask needs the distributed extra: pip install 'nhiscan[distributed]' "
            "(or sweep in this process with --serial)"
        ) from None
    return distributed


@contextmanager
def dask_client(scheduler: str | None, *, workers: int) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``workers`` processes.

    Connecting gives up after Dask's ``distributed.comm.timeouts.connect`` (default 30 s; the
    environment variable ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT`` sets it).
    """
    distributed = _import_distributed()
    cluster = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        where = scheduler or "a local cluster"
        raise NhiscanError(f"{where}: cannot connect to the Dask scheduler: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def worker_count(client: Client, *, wait: float = 30.0) -> int:
    """Workers connected now (waits up to ``wait`` seconds for the first one)."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise NhiscanError(
            f"{_address(client)}: no Dask worker connected within {wait:.0f} s "
            "(start some with: dask worker ADDRESS)"
        ) from None
    return len(client.scheduler_info(n_workers=-1)["workers"])


def _address(client: Client) -> str:
    scheduler = client.scheduler
    return str(scheduler.address) if scheduler is not None else "the Dask scheduler"


def _plugin(spec: tasks.SweepSpec) -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class SweepPlugin(WorkerPlugin):
        """Installs the sweep's rule set on every worker, now and on any that joins later."""

        def __init__(self, spec: tasks.SweepSpec) -> None:
            self.spec = spec

        def setup(self, worker: Any) -> None:
            tasks.install(self.spec)

        # No teardown: registering the same plugin again (a second sweep with the same spec,
        # running at the same time) tears the old one down, and its tasks must still find
        # the spec. A worker keeps each distinct spec it has seen for its lifetime.

    return SweepPlugin(spec)


def run_dask(driver: SweepDriver, spec: tasks.SweepSpec, client: Client) -> None:
    """Submit the driver's jobs as Dask tasks until every repository is done."""
    distributed = _import_distributed()
    name = f"nhiscan-sweep-{spec.key[:16]}"
    try:
        client.register_plugin(_plugin(spec), name=name)
    except Exception as exc:  # a worker without nhiscan, or a rule set it cannot build
        raise NhiscanError(f"cannot install the rule set on the Dask workers: {type(exc).__name__}: {exc}") from None
    run_id = uuid.uuid4().hex[:8]
    jobs: dict[Any, Job] = {}

    def submit(job: Job) -> Any:
        key = f"nhiscan-{job.kind}-{run_id}-{job.repo}-{job.index}"
        fut = client.submit(
            job.fn, *job.args, key=key, pure=False, retries=RETRIES, priority=_PRIORITY[job.kind]
        )
        jobs[fut] = job
        return fut

    pending = distributed.as_completed([submit(j) for j in driver.start()])
    try:
        for fut in pending:
            job = jobs.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # raised after retries, or KilledWorker
                first = str(exc).splitlines()[0] if str(exc) else ""
                follow = driver.failed(job, f"{type(exc).__name__}: {first}".rstrip(": "))
            else:
                follow = driver.done(job, result)
            fut.release()
            for nxt in follow:
                pending.add(submit(nxt))
    except BaseException:
        client.cancel(list(jobs))  # type: ignore[no-untyped-call]
        raise
