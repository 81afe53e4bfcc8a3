"""The work units of a sweep: plain functions that a Dask worker, or this process, runs.

Every task is pure and idempotent: it reads a repository and returns a small, picklable,
frozen result (findings, matches and counters; never an open process or a file handle), so a
task retried on another worker after its first worker died gives the same result. The one
side effect, cloning or fetching a URL into the cache, is itself idempotent (see
:func:`nhiscan.sweep.repos.ensure_clone`).

The three tasks of one repository:

1. :func:`plan_repo`: clone or fetch if it is a URL, open it, list its blobs (pack order) and
   cut the list into blob ranges of about ``task_bytes``. A repository that fits in one range
   is swept whole right there (one task per small repository).
2. :func:`scan_range`: scan one blob range (``nhiscan.history``'s blob scanner).
3. :func:`finish_repo`: the range results merged in range order, place the blobs with matches
   in history (path, introducing commit) and turn them into findings, exactly as
   ``nhiscan git`` does; with an inventory asked for, also decide which credentials are
   still at HEAD.

The rule set travels once per worker (:func:`install`, called by the worker plugin); tasks
carry only its key. Hyperscan databases cannot be pickled, so each worker thread builds its
own :class:`Scanner` from the installed rule set, once (the compiled database is cached on
disk, so only the first build on a machine compiles).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from nhiscan.config import Config
from nhiscan.engine.scanner import Scanner
from nhiscan.errors import NhiscanError
from nhiscan.history import SweepResult, finish_history, scan_blobs
from nhiscan.inventory.gitinfo import HistoryOracle, Presence, RawSecretProbe
from nhiscan.mapping.controls import ControlMapping, load_mapping
from nhiscan.model import ReadError, ScanReport, Stats
from nhiscan.rules import RuleSet
from nhiscan.scan import EngineOptions, ReportBuilder, build_scanner
from nhiscan.sources.git import RepoInfo, list_blobs, open_repo
from nhiscan.sweep.repos import RepoTarget, ensure_clone

DEFAULT_TASK_BYTES = 64 * 1024 * 1024  # each task starts a cold git cat-file: keep them large
DEFAULT_TASK_BLOBS = 32768


def split_blobs(blobs: list[tuple[str, int]], max_bytes: int, max_blobs: int) -> list[list[tuple[str, int]]]:
    """Contiguous runs of the pack-ordered listing of about ``max_bytes`` (or ``max_blobs``)
    each: the tasks of a cluster sweep."""
    out: list[list[tuple[str, int]]] = []
    cur: list[tuple[str, int]] = []
    size = 0
    for b in blobs:
        cur.append(b)
        size += b[1]
        if size >= max_bytes or len(cur) >= max_blobs:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


BlobRange = tuple[tuple[str, int], ...]
"""(object id, size) pairs: a contiguous run of the pack-ordered blob listing."""


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """Everything a worker needs besides the repository: rules, config, engine, task sizes."""

    ruleset: RuleSet
    config: Config
    options: EngineOptions
    presence: bool = False
    """Also decide presence at HEAD of each credential (for ``--inventory``)."""
    task_bytes: int = DEFAULT_TASK_BYTES
    """A repository with more blob content than this is split into ranges of about this much."""
    task_blobs: int = DEFAULT_TASK_BLOBS
    """... or of at most this many blobs."""

    @cached_property
    def scanner_key(self) -> str:
        """Identifies the scanner: the rules (every field, not only the matching digest) and engine."""
        return hashlib.sha256(f"{self.ruleset.rules!r}\0{self.options!r}".encode()).hexdigest()

    @cached_property
    def key(self) -> str:
        """Identifies the spec on a worker: everything that can change a task's result."""
        h = hashlib.sha256(self.scanner_key.encode())
        h.update(f"\0{self.config!r}\0{self.presence}\0{self.task_bytes}\0{self.task_blobs}".encode())
        return h.hexdigest()


# ---- per-worker state: installed specs and per-thread scanners ----------------------------------

_SPECS: dict[str, SweepSpec] = {}
_LOCK = threading.Lock()
_LOCAL = threading.local()
_MAPPING: list[ControlMapping] = []


def install(spec: SweepSpec) -> str:
    """Make ``spec`` available to tasks in this process and build its scanner once."""
    with _LOCK:
        _SPECS[spec.key] = spec
    scanner_for(spec.key)
    return spec.key


def uninstall(key: str) -> None:
    """Forget ``key`` (this thread's scanners of it are dropped; other threads' stay cached)."""
    with _LOCK:
        spec = _SPECS.pop(key, None)
    scanners: dict[str, Scanner] | None = getattr(_LOCAL, "scanners", None)
    if spec is not None and scanners is not None:
        scanners.pop(spec.scanner_key, None)


def spec_for(key: str) -> SweepSpec:
    spec = _SPECS.get(key)
    if spec is None:
        # A programming or deployment error (the worker plugin did not run here): raise, so
        # that Dask retries the task on another worker.
        raise RuntimeError(f"nhiscan sweep: rule set {key[:12]} is not installed on this worker")
    return spec


def scanner_for(key: str) -> Scanner:
    """This thread's scanner for the installed spec ``key`` (a Hyperscan scratch is per thread)."""
    scanners: dict[str, Scanner] | None = getattr(_LOCAL, "scanners", None)
    if scanners is None:
        scanners = _LOCAL.scanners = {}
    spec = spec_for(key)
    scanner = scanners.get(spec.scanner_key)
    if scanner is None:
        scanner = scanners[spec.scanner_key] = build_scanner(spec.ruleset, spec.options)
    return scanner


def _mapping() -> ControlMapping:
    with _LOCK:
        if not _MAPPING:
            _MAPPING.append(load_mapping())
        return _MAPPING[0]


# ---- results --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RepoResult:
    """One repository swept: its report (findings carry ``repo``) and presence at HEAD."""

    report: ScanReport
    """Paths are relative to the repository; the merge prefixes errors and skips with its name."""
    presence: dict[str, Presence] = field(default_factory=dict)
    """secret_sha256 -> at HEAD or not (only when the spec asks for it)."""
    failed: bool = False
    """The repository could not be swept at all (missing, not a repository, clone failed)."""


@dataclass(frozen=True, kw_only=True)
class RepoPlan:
    """What :func:`plan_repo` found: the ranges to scan, or the finished repository."""

    target: RepoTarget
    info: RepoInfo | None = None
    ranges: tuple[BlobRange, ...] = ()
    too_large: tuple[tuple[str, int], ...] = ()
    unreadable: tuple[str, ...] = ()
    """Objects the listing names but cannot read."""
    bytes: int = 0
    """Blob content to scan, over all ranges."""
    started: float = 0.0
    """Wall-clock time (epoch seconds) the plan started: the repository's ``seconds`` count from it."""
    done: RepoResult | None = None
    """Set when the repository was swept whole by the plan task (small, or failed to open)."""


@dataclass(frozen=True, kw_only=True)
class RangeResult:
    sweep: SweepResult | None = None
    error: str | None = None


def failed_repo(target: RepoTarget, message: str) -> RepoResult:
    """A repository that could not be swept at all: one error naming it."""
    prefix = f"{target.path}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    stats = Stats(errors=1)
    report = ScanReport(
        findings=[],
        stats=stats,
        errors=[ReadError(path="", message=message)],
        source_kind="git",
        root=target.name,
    )
    return RepoResult(report=report, failed=True)


# ---- the tasks ------------------------------------------------------------------------------

def plan_repo(key: str, target: RepoTarget) -> RepoPlan:
    """Task 1: open (clone, fetch) and list the repository; sweep it whole if it is small."""
    spec = spec_for(key)
    started = time.time()
    try:
        if target.url is not None:
            ensure_clone(target)
        info = open_repo(Path(target.path))
        listing = list_blobs(info)
    except NhiscanError as exc:
        return RepoPlan(target=target, started=started, done=failed_repo(target, str(exc)))
    max_size = spec.config.max_file_size
    to_scan = [(oid, size) for oid, size in listing.blobs if size <= max_size]
    too_large = tuple((oid, size) for oid, size in listing.blobs if size > max_size)
    ranges = [tuple(r) for r in split_blobs(to_scan, spec.task_bytes, spec.task_blobs)]
    plan = RepoPlan(
        target=target,
        info=info,
        ranges=tuple(ranges),
        too_large=too_large,
        unreadable=tuple(listing.unreadable),
        bytes=sum(size for _, size in to_scan),
        started=started,
    )
    if len(ranges) > 1:
        return plan
    results = [scan_range(key, str(info.root), r) for r in ranges]
    return dataclasses.replace(plan, ranges=(), done=finish_repo(key, plan, results))


def scan_range(key: str, root: str, blobs: BlobRange) -> RangeResult:
    """Task 2: scan one blob range; only blobs with matches are kept in the result."""
    try:
        return RangeResult(sweep=scan_blobs(scanner_for(key), root, list(blobs)))
    except NhiscanError as exc:
        return RangeResult(error=str(exc))


def finish_repo(key: str, plan: RepoPlan, results: list[RangeResult]) -> RepoResult:
    """Task 3: findings placed in history, as ``nhiscan git`` reports them, plus presence.

    ``results`` are in range order, so the merge (and so the report) does not depend on
    which worker finished first.

    The same tail as ``scan_history`` (``nhiscan.history.finish_history``), so each
    repository's findings are what ``nhiscan git`` reports for it.
    """
    spec = spec_for(key)
    target = plan.target
    assert plan.info is not None
    info = plan.info
    sweep = SweepResult()
    range_errors = []
    for r in results:
        if r.sweep is not None:
            sweep.merge(r.sweep)
        if r.error is not None:
            range_errors.append(r.error)
    sweep.unreadable.extend(plan.unreadable)
    too_large = dict(plan.too_large)
    builder = ReportBuilder(ruleset=spec.ruleset, config=spec.config, mapping=_mapping())
    if info.shallow:
        builder.warnings.append(
            "shallow clone: history before its oldest fetched commits is not scanned, and "
            "those commits count as introducing every file they hold"
        )
    for message in range_errors:
        builder.error(ReadError(path="", message=message))
    try:
        report = finish_history(
            info, sweep, too_large, builder, started=time.monotonic(), root=target.name
        )
    except NhiscanError as exc:
        return failed_repo(target, str(exc))
    report.findings = [dataclasses.replace(f, repo=target.name) for f in report.findings]
    report.stats.seconds = round(time.time() - plan.started, 3)
    presence = _presence(info, report) if spec.presence else {}
    return RepoResult(report=report, presence=presence)


def _presence(info: RepoInfo, report: ScanReport) -> dict[str, Presence]:
    """For each secret: still at HEAD here, or removed when (the inventory's history oracle)."""
    if not report.findings:
        return {}
    paths_by_nhi: dict[str, set[str]] = {}
    hashes_by_nhi: dict[str, set[str]] = {}
    for f in report.findings:
        paths_by_nhi.setdefault(f.nhi_id, set()).add(f.path)
        hashes_by_nhi.setdefault(f.nhi_id, set()).add(f.secret_sha256)
    paths_by_hash: dict[str, set[str]] = {}
    for nhi, hashes in hashes_by_nhi.items():
        for h in hashes:
            paths_by_hash.setdefault(h, set()).update(paths_by_nhi[nhi])
    oracle = HistoryOracle(info.root, RawSecretProbe(f.secret for f in report.findings))
    return {h: oracle.presence(h, sorted(paths)) for h, paths in sorted(paths_by_hash.items())}
