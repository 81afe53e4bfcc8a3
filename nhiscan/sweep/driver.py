"""Turning task results into more tasks, and finally into one report; the same for every engine.

:class:`SweepDriver` knows the order of a repository's tasks (plan, ranges, finish) and holds
the results; an engine only runs the :class:`Job` objects it hands out, in any order and on
any worker, and hands back results or failures. Because the driver merges range results in
range order and repositories in the order given, the report does not depend on the engine
or on which worker finished first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from nhiscan.history import ProgressLine
from nhiscan.model import ReadError, ScanReport, Skipped, Stats
from nhiscan.sweep.repos import RepoTarget
from nhiscan.sweep.tasks import (
    RangeResult,
    RepoPlan,
    RepoResult,
    failed_repo,
    finish_repo,
    plan_repo,
    scan_range,
)


@dataclass(frozen=True, kw_only=True)
class Job:
    """One task to run: ``fn(*args)``, and where its result goes."""

    kind: str
    """``plan``, ``range`` or ``finish``."""
    repo: int
    """Index of the repository in the sweep."""
    index: int
    """Range number (``range`` jobs), else 0."""
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    size: int = 0
    """Bytes of blob content the job scans (for progress)."""


@dataclass(kw_only=True)
class _Repo:
    target: RepoTarget
    plan: RepoPlan | None = None
    ranges: list[RangeResult | None] = field(default_factory=list)
    pending: int = 0
    result: RepoResult | None = None


class Progress:
    """A one-line progress bar on stderr: repositories and bytes done (terminal only)."""

    def __init__(self, enabled: bool, repos: int) -> None:
        self.line = ProgressLine(enabled, "sweeping", width=24)
        self.repos = repos
        self.repos_done = 0
        self.repos_planned = 0
        self.bytes_total = 0
        self.bytes_done = 0

    def update(self, *, repo_done: bool = False, planned: int | None = None, scanned: int = 0) -> None:
        self.repos_done += int(repo_done)
        if planned is not None:
            self.repos_planned += 1
            self.bytes_total += planned
        self.bytes_done += scanned
        if not self.line.enabled:
            return
        # Bytes once every repository is planned (the total is known), repositories until then.
        if self.repos_planned == self.repos and self.bytes_total:
            frac = self.bytes_done / self.bytes_total
        else:
            frac = self.repos_done / self.repos if self.repos else 1.0
        mb = 1024 * 1024
        self.line.draw(
            frac,
            f"{self.repos_done}/{self.repos} repos, {self.bytes_done / mb:,.0f}/{self.bytes_total / mb:,.0f} MB",
            final=self.repos_done >= self.repos,
        )

    def close(self) -> None:
        self.line.close()


class SweepDriver:
    def __init__(self, key: str, targets: list[RepoTarget], *, progress: bool = False) -> None:
        self.key = key
        self.repos = [_Repo(target=t) for t in targets]
        self.tasks = 0
        self.progress = Progress(progress, len(targets))

    # -- what to run ------------------------------------------------------------------------

    def start(self) -> list[Job]:
        jobs = [
            Job(kind="plan", repo=i, index=0, fn=plan_repo, args=(self.key, r.target))
            for i, r in enumerate(self.repos)
        ]
        self.tasks += len(jobs)
        return jobs

    def done(self, job: Job, result: Any) -> list[Job]:
        """Record a job's result; returns the jobs it makes runnable."""
        repo = self.repos[job.repo]
        if job.kind == "plan":
            assert isinstance(result, RepoPlan)
            repo.plan = result
            self.progress.update(planned=result.bytes)
            if result.done is not None:
                return self._finished(repo, result.done, scanned=result.bytes)
            repo.ranges = [None] * len(result.ranges)
            repo.pending = len(result.ranges)
            assert result.info is not None
            root = str(result.info.root)
            jobs = [
                Job(
                    kind="range", repo=job.repo, index=n, fn=scan_range, args=(self.key, root, blobs),
                    size=sum(size for _, size in blobs),
                )
                for n, blobs in enumerate(result.ranges)
            ]
            self.tasks += len(jobs)
            return jobs
        if job.kind == "range":
            assert isinstance(result, RangeResult)
            repo.ranges[job.index] = result
            repo.pending -= 1
            self.progress.update(scanned=job.size)
            return self._finish_job(job.repo, repo) if repo.pending == 0 else []
        assert isinstance(result, RepoResult)
        return self._finished(repo, result)

    def failed(self, job: Job, message: str) -> list[Job]:
        """A job that raised (after the engine's retries), or whose worker kept dying."""
        repo = self.repos[job.repo]
        if job.kind == "range":
            return self.done(job, RangeResult(error=f"blob range {job.index + 1}: {message}"))
        return self._finished(repo, failed_repo(repo.target, f"{job.kind} task failed: {message}"))

    def _finish_job(self, index: int, repo: _Repo) -> list[Job]:
        assert repo.plan is not None
        results = [r if r is not None else RangeResult(error="not scanned") for r in repo.ranges]
        plan = repo.plan
        # The finish task needs the plan's repository, not its ranges: do not ship them again.
        slim = RepoPlan(
            target=plan.target, info=plan.info, too_large=plan.too_large,
            unreadable=plan.unreadable, bytes=plan.bytes, started=plan.started,
        )
        self.tasks += 1
        return [Job(kind="finish", repo=index, index=0, fn=finish_repo, args=(self.key, slim, results))]

    def _finished(self, repo: _Repo, result: RepoResult, *, scanned: int = 0) -> list[Job]:
        repo.result = result
        repo.ranges = []
        self.progress.update(repo_done=True, scanned=scanned)
        return []

    @property
    def complete(self) -> bool:
        return all(r.result is not None for r in self.repos)

    # -- the merged report ------------------------------------------------------------------

    def results(self) -> list[tuple[str, RepoResult]]:
        return [(r.target.name, r.result) for r in self.repos if r.result is not None]

    def report(self, *, started: float, engine: str, workers: int) -> ScanReport:
        """One report over all repositories, in the order given."""
        self.progress.close()
        stats = Stats()
        findings = []
        skipped: list[Skipped] = []
        errors: list[ReadError] = []
        warnings: list[str] = []
        failed = 0
        for name, result in self.results():
            rep = result.report
            findings.extend(rep.findings)
            st = rep.stats
            stats.files += st.files
            stats.bytes += st.bytes
            stats.blobs += st.blobs
            stats.commits += st.commits
            stats.allowed += st.allowed
            stats.timeouts += st.timeouts
            stats.baselined += st.baselined
            stats.errors += st.errors
            for reason, n in st.skipped.items():
                stats.skipped[reason] = stats.skipped.get(reason, 0) + n
            skipped.extend(Skipped(path=_within(name, s.path), reason=s.reason) for s in rep.skipped)
            errors.extend(ReadError(path=_within(name, e.path), message=e.message) for e in rep.errors)
            warnings.extend(f"{name}: {w}" for w in rep.warnings)
            failed += int(result.failed)
        stats.seconds = round(time.monotonic() - started, 3)
        stats.extra = {
            "engine": engine,
            "workers": workers,
            "repositories": len(self.repos),
            "repositories_failed": failed,
            "tasks": self.tasks,
        }
        return ScanReport(
            findings=findings,
            stats=stats,
            skipped=skipped,
            errors=errors,
            warnings=warnings,
            source_kind="git",
            root=".",
        )


def _within(repo: str, path: str) -> str:
    return f"{repo}:{path}" if path else repo
