"""Library entry points for git sources: the history sweep, commit ranges and staged changes.

Flow: :mod:`nhiscan.sources.git` (bytes and where they live) -> engine -> ReportBuilder.

The sweep scans every unique blob once, in pack order, spread over worker processes that each
read their own share from the pack files (:mod:`nhiscan.sources.pack`; what that reader cannot
read comes through their own ``git cat-file``), so no blob content crosses a process boundary.
A blob that is a delta in its pack is scanned by Hyperscan only where the delta changed it
(:meth:`~nhiscan.engine.prefilter.HyperscanPrefilter.delta_hits`), and is not even built
unless that finds something to confirm. Only the blobs with findings are then placed in
history (path, introducing commit, how many commits hold them), so a large repository with
few findings pays for one read of its objects plus one ``git log --raw`` pass (which starts,
at the first finding, while the scan goes on).

A finding is identified, as everywhere, by rule + path + secret: a secret that stays at one
path across many commits (and many versions of the file) is one finding carrying the first
commit that put it there and the number of commits that hold it. A file renamed with its
secret is a new path, so a new finding whose commit is the rename.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import threading
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from nhiscan.config import Config
from nhiscan.engine.prefilter import Hits, HyperscanPrefilter
from nhiscan.engine.scanner import Scanner
from nhiscan.errors import GitError
from nhiscan.model import Finding, Match, ReadError, ScanReport, Skipped
from nhiscan.rules import RuleSet
from nhiscan.scan import BlobOutcome, EngineOptions, ReportBuilder, build_scanner, scan_bytes
from nhiscan.engine.text import BOM_FIRST_BYTES, SNIFF_BYTES
from nhiscan.sources.pack import MAX_OBJECT, Blob, ByteLru, Delta, open_store
from nhiscan.sources.git import (
    BlobTooLarge,
    CatFile,
    CommitWalk,
    EarlyListing,
    FileChange,
    HistoryMap,
    RepoInfo,
    commit_changes,
    list_blobs,
    list_commits,
    locate_blobs,
    open_repo,
    refs_to_blobs,
    repository_uri,
    staged_changes,
    stream_blobs,
)

# Below this much blob content a process pool costs more than it saves.
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
UNREADABLE = "cannot read this object (corrupt or missing); run git fsck"


# ---- scanning blobs ---------------------------------------------------------------------------

@dataclass(kw_only=True)
class SweepResult:
    """What scanning a set of blobs produced; only blobs with matches are kept."""

    found: dict[str, tuple[int, tuple[Match, ...]]] = field(default_factory=dict)
    scanned: int = 0
    bytes: int = 0
    binary: int = 0
    allowed: int = 0
    timeouts: int = 0
    unreadable: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def merge(self, other: SweepResult) -> None:
        self.found.update(other.found)
        self.scanned += other.scanned
        self.bytes += other.bytes
        self.binary += other.binary
        self.allowed += other.allowed
        self.timeouts += other.timeouts
        self.unreadable.extend(other.unreadable)
        self.warnings.extend(other.warnings)


class StopScan(Exception):
    """Raised in a worker when the parent asked the sweep to stop (an error or an interrupt)."""


def scan_blobs(
    scanner: Scanner,
    root: str,
    chunk: list[tuple[str, int]],
    progress: Callable[[int], None] | None = None,
    on_finding: Callable[[], None] | None = None,
    objects: Path | None = None,
) -> SweepResult:
    """Scan ``chunk`` (object id, size): read from the pack files by :mod:`nhiscan.sources.pack`
    (in ``objects``, the object directory, when the caller knows it) where it can, the rest
    through one ``git cat-file`` stream.

    Either way, a contiguous run of the pack order matters, in few pieces: the reader, like
    git, keeps the delta bases it has just rebuilt, and a fresh reader starts cold (8 MB
    pieces, each with its own ``cat-file``, cost git 25-65% more CPU than one stream; see
    benchmarks/README.md). A blob whose bytes from the packs are not the size git listed for
    it is read through git too.
    ``progress`` is called with the bytes of each blob before it is scanned; it may raise
    :class:`StopScan` to end the run early. ``on_finding`` is called when the first blob with
    something to report is found.
    """
    res = SweepResult()

    def gave_up(failed: int, left: int) -> None:
        res.warnings.append(
            f"git failed on {failed} of the objects in a run of {len(chunk)}; the {left} after "
            "them were not read and are reported unreadable (run git fsck)"
        )

    def scan_one(oid: str, data: bytes | None, hits_for: Callable[[bytes], Hits] | None = None) -> None:
        if data is None:
            res.unreadable.append(oid)
            return
        outcome = scan_bytes(scanner, f"blob {oid}", data, hits_for=hits_for)
        if outcome.skipped is not None:
            res.binary += 1
            return
        res.scanned += 1
        res.bytes += len(data)
        res.allowed += outcome.allowed
        res.timeouts += outcome.timeouts
        res.warnings.extend(outcome.warnings)
        if outcome.matches:
            if on_finding is not None and not res.found:
                on_finding()
            res.found[oid] = (len(data), outcome.matches)

    # Straight from the pack files where this reader can; what it cannot read comes from git.
    from_git: list[tuple[str, int]] = []
    store = open_store(Path(root), len(chunk[0][0]) // 2, objects) if chunk else None
    if store is not None:
        with store:
            hits = _DeltaHits(scanner)
            for oid, size in chunk:
                found = store.blob_or_delta(oid, build=not hits.active)
                if isinstance(found, Delta):
                    seen = hits.unbuilt(found)
                    if seen is None:  # scanned whole after all
                        found = store.build(found)
                    elif seen.size != size:
                        from_git.append((oid, size))
                        continue
                    elif seen.binary or not seen.hits or hits.quiet(found, seen):  # never built
                        if progress is not None:
                            progress(size)
                        if seen.binary:
                            res.binary += 1
                        else:
                            res.scanned += 1
                            res.bytes += size
                        continue
                    else:  # something to confirm
                        built = store.build(found)
                        if built is None:  # (partial() read the delta: unlikely)
                            from_git.append((oid, size))
                        else:
                            if progress is not None:
                                progress(size)
                            scan_one(oid, built.data, seen.hits_for)
                        continue
                if found is None or len(found.data) != size:
                    from_git.append((oid, size))
                    continue
                if progress is not None:
                    progress(size)
                scan_one(oid, found.data, hits.bind(found))
    else:
        from_git = chunk
    if not from_git:
        return res
    # stream_blobs answers every requested blob, in order.
    stream = stream_blobs(Path(root), [oid for oid, _ in from_git], gave_up)
    try:
        for (oid, size), (_, data) in zip(from_git, stream):
            if progress is not None:
                progress(size)
            scan_one(oid, data)
    finally:
        stream.close()  # stops git now, even while an exception is on its way up
    return res


class _Unbuilt(NamedTuple):
    """What a blob left as its delta was found to be (:meth:`_DeltaHits.unbuilt`)."""

    size: int
    binary: bool
    hits: Hits

    def hits_for(self, _text: bytes) -> Hits:
        """For scan_bytes, which asks with the blob's bytes once it is built."""
        return self.hits


class _DeltaHits:
    """The prefilter's hits of each pack object scanned so far (packed, 8 bytes per hit), so
    that a delta against it scans only what the delta changed. The most recent ones are kept,
    up to 32 MB with their overhead (about 200 bytes an entry: most blobs have no hits)."""

    def __init__(self, scanner: Scanner) -> None:
        prefilter = scanner.prefilter
        self._scanner = scanner
        self._prefilter = (
            prefilter
            if isinstance(prefilter, HyperscanPrefilter) and prefilter.delta_module is not None
            else None
        )
        self._memo: ByteLru[tuple[int, int]] = ByteLru(32 * 1024 * 1024, overhead=200)

    @property
    def active(self) -> bool:
        """Whether deltas can be scanned from their base's hits (Hyperscan and the C module)."""
        return self._prefilter is not None

    def bind(self, blob: Blob) -> Callable[[bytes], Hits] | None:
        """What scan_bytes calls with a built blob's text (when it is the blob's bytes as they
        are): a whole scan, kept for the deltas against this blob."""
        prefilter = self._prefilter
        key = blob.key
        if prefilter is None or key is None:
            return None
        memo = self._memo

        def hits_for(text: bytes) -> Hits:
            hits, packed = prefilter.packed_hits(text)
            memo.put(key, packed)
            return hits

        return hits_for

    def quiet(self, delta: Delta, seen: _Unbuilt) -> bool:
        """Whether the hits of a version left as its delta confirm nothing (most of them: the
        same words in the same code as in the last version), from the delta's bytes around
        them (:meth:`Scanner.quiet`)."""
        prefilter = self._prefilter
        assert prefilter is not None

        bad: list[bool] = []

        def read(spans: list[tuple[int, int]]) -> bytes:
            flat = array("q", [x for span in spans for x in span])
            try:
                data: bytes = prefilter.delta_module.extract(delta.base, delta.delta, MAX_OBJECT, flat)
            except ValueError:  # (a malformed delta: partial() would have said so first)
                bad.append(True)
                return b""
            return data

        quiet = self._scanner.quiet(seen.hits, seen.size, read)
        return quiet and not bad

    def unbuilt(self, delta: Delta) -> _Unbuilt | None:
        """A delta's size, whether it is binary, and its hits, from its base's hits and the
        stretches it changed; None when it must be built and scanned whole instead (its
        base's hits are not known, it starts with a byte-order mark, or the delta is
        malformed: building it tells git's reader to take over)."""
        prefilter = self._prefilter
        assert prefilter is not None
        base_hits = self._memo.get(delta.base_key)
        if base_hits is None:
            return None
        before, after = prefilter.margins
        try:
            size, copies, windows, ranges, joined, first, nul = prefilter.delta_module.partial(
                delta.base, delta.delta, MAX_OBJECT, before, after, SNIFF_BYTES
            )
        except ValueError:
            return None
        if first in BOM_FIRST_BYTES:
            return None
        if nul:  # (binary: is_binary)
            return _Unbuilt(size, True, {})
        hits, packed = prefilter.delta_hits((windows, ranges, joined), base_hits, copies)
        self._memo.put(delta.key, packed)
        return _Unbuilt(size, False, hits)


# Worker process state: the scanner, and the values shared with the parent (see _Workers). They
# are lock-free shared memory (each slot written only by the process scanning that run): a
# worker killed while holding a lock would leave the parent blocked forever on its next read.
_WORKER: Scanner | None = None
_DONE: Any = None  # RawArray of bytes read, one slot per piece
_STOP: Any = None  # RawValue set by the parent to stop every run
_FOUND: Any = None  # RawValue set by a run that found something to report


def _init_worker(ruleset: RuleSet, options: EngineOptions, done: Any, stop: Any, found: Any) -> None:
    global _WORKER, _DONE, _STOP, _FOUND
    _WORKER = build_scanner(ruleset, options)
    _DONE, _STOP, _FOUND = done, stop, found


def _worker_scan(root: str, objects: Path, slot: int, chunk: list[tuple[str, int]]) -> SweepResult:
    assert _WORKER is not None

    def progress(n: int) -> None:
        if _STOP.value:
            raise StopScan
        _DONE[slot] += n

    def on_finding() -> None:
        _FOUND.value = 1

    return scan_blobs(_WORKER, root, chunk, progress, on_finding, objects)


def _worker_ready() -> None:
    """Submitted once per worker when the pool starts: starts and initializes it."""


class _Workers:
    """A sweep's worker processes and the lock-free values they share with the parent: a slot
    per piece for the bytes read (the progress bar), a stop flag (the parent sets it on an
    error or an interrupt: every piece being scanned ends at its next blob, and those queued
    are cancelled), and a found flag (the first finding). Forking them and loading their
    rules and database take some 30 ms, which
    :func:`scan_history` overlaps with listing the blobs when the repository's packs are large
    enough to want them (:data:`_PREFORK_PACK_BYTES`)."""

    def __init__(self, jobs: int, ruleset: RuleSet, options: EngineOptions) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.done = multiprocessing.RawArray("q", _PIECES_PER_JOB * jobs)
        self.stop = multiprocessing.RawValue("b", 0)
        self.found = multiprocessing.RawValue("b", 0)
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, initializer=_init_worker,
            initargs=(ruleset, options, self.done, self.stop, self.found),
        )
        for _ in range(jobs):
            self.pool.submit(_worker_ready)

    def close(self) -> None:
        """Stops every run at its next blob and waits for the processes (again: no-op)."""
        self.stop.value = 1
        self.pool.shutdown(wait=True, cancel_futures=True)


_PREFORK_PACK_BYTES = 2 * 1024 * 1024
"""Pack files this large hold more than _PARALLEL_MIN_BYTES of blobs, as a rule (deltas and
zlib: SQLAlchemy's 10 releases, 448 MB, are a 10.5 MB pack)."""


def _packs_bytes(info: RepoInfo) -> int:
    try:
        return sum(p.stat().st_size for p in (info.objects_dir / "pack").glob("*.pack"))
    except OSError:
        return 0


_BLOB_COST = 256 * 1024
"""What a blob costs a sweep beyond its bytes, in bytes: reading its header, placing and
remembering its hits, Python around it. Measured on SQLAlchemy's 10 and 50 releases, whose
runs of equal bytes took 15-25% longer for the one with more, smaller blobs (most of a
history's versions cost far less than their size: deltas are scanned where they changed)."""


def weighted_runs(blobs: list[tuple[str, int]], weights: list[int]) -> list[list[tuple[str, int]]]:
    """Contiguous runs, in order, of costs about in proportion to ``weights`` (a blob costs its
    bytes plus :data:`_BLOB_COST`; it goes to the run its middle falls in, so one large blob
    never starves the runs after it); empty runs are left out."""
    total = sum(size for _, size in blobs) + _BLOB_COST * len(blobs)
    scale = sum(weights)
    ends = list(itertools.accumulate(weights))  # run k ends at ends[k] / scale of the cost
    last = len(weights) - 1
    runs: list[list[tuple[str, int]]] = [[] for _ in weights]
    before = 0
    k = 0
    for blob in blobs:
        cost = blob[1] + _BLOB_COST
        middle = (before + cost // 2) * scale
        while k < last and ends[k] * total <= middle:
            k += 1
        runs[k].append(blob)
        before += cost
    return [r for r in runs if r]


def pieces(blobs: list[tuple[str, int]], jobs: int) -> list[list[tuple[str, int]]]:
    """The sweep cut for ``jobs`` worker processes, which take the pieces in order as they
    become free: ``jobs`` pieces of each size, the size halving from one set to the next
    (8, 4, 2, 1: the last ones a thirtieth of the sweep for two jobs), so that a process
    slowed down (a busy core, a run of costly blobs) takes fewer of them and all end within
    a small piece of each other. Each piece is a contiguous run of the pack order (a piece
    starts with its delta bases cold: about 0.3% more work a piece on SQLAlchemy's 50
    releases)."""
    return weighted_runs(blobs, [2**level for level in reversed(range(_PIECES_PER_JOB)) for _ in range(jobs)])


_PIECES_PER_JOB = 4


class ProgressLine:
    """One line redrawn on stderr at most ten times a second, and cleared at the end (only
    when enabled: the CLI decides, on a terminal). The history sweep's and the cluster
    sweep's progress bars both draw through it."""

    def __init__(self, enabled: bool, label: str, width: int = 30) -> None:
        self.enabled = enabled
        self.label = label
        self.width = width
        self.started = time.monotonic()
        self._last = 0.0

    def draw(self, frac: float, detail: str, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and not final:
            return
        self._last = now
        bar = "#" * int(min(1.0, frac) * self.width)
        sys.stderr.write(f"\r{self.label} [{bar:<{self.width}}] {detail}, {now - self.started:.0f} s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.enabled = False
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


class _Progress:
    """Bytes of blobs read out of ``total``."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.line = ProgressLine(enabled and total > 0, label)
        self.total = total
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        if self.line.enabled:
            mb = 1024 * 1024
            frac = self.done / self.total
            self.line.draw(
                frac, f"{min(1.0, frac) * 100:3.0f}% {self.done / mb:,.0f}/{self.total / mb:,.0f} MB",
                final=self.done >= self.total,
            )

    def close(self) -> None:
        self.line.close()


def _scan_all(
    info: RepoInfo,
    blobs: list[tuple[str, int]],
    *,
    scanner: Scanner,
    ruleset: RuleSet,
    options: EngineOptions,
    jobs: int,
    progress: bool,
    on_finding: Callable[[], None] | None = None,
    workers: _Workers | None = None,
) -> SweepResult:
    """Every blob scanned once: contiguous pieces of the pack order (:func:`pieces`), each read
    by a worker from the pack files or through its own ``git cat-file`` (no blob content
    crosses a process boundary). ``on_finding`` is called once something to report has been
    found. ``workers`` already started are used (and closed) if the sweep is worth them."""
    total = sum(size for _, size in blobs)
    bar = _Progress(progress, total, "scanning history")
    root = str(info.root)
    try:
        if jobs <= 1 or total < _PARALLEL_MIN_BYTES or len(blobs) < 2:
            return scan_blobs(scanner, root, blobs, bar.advance, on_finding, info.objects_dir)
        from concurrent.futures import FIRST_EXCEPTION, wait

        # Contiguous pieces, taken in order by whichever process is free.
        runs = pieces(blobs, jobs)
        if len(runs) == 1:
            return scan_blobs(scanner, root, runs[0], bar.advance, on_finding, info.objects_dir)
        if workers is None:
            workers = _Workers(min(jobs, len(runs)), ruleset, options)
        assert len(runs) <= len(workers.done)  # (a progress slot each)
        result = SweepResult()
        try:
            pending = {
                workers.pool.submit(_worker_scan, root, info.objects_dir, i, run) for i, run in enumerate(runs)
            }
            while pending:
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
                for fut in finished:
                    result.merge(fut.result())
                bar.advance(sum(workers.done) - bar.done)
                if workers.found.value and on_finding is not None:
                    on_finding()
                    on_finding = None
        finally:
            # On an error or Ctrl-C the other runs stop at their next blob (their git
            # processes are killed as they unwind) instead of finishing their share.
            workers.close()
        return result
    finally:
        bar.close()


# ---- the history sweep ------------------------------------------------------------------------

def _place_findings(
    builder: ReportBuilder,
    sweep: SweepResult,
    where: HistoryMap,
) -> tuple[list[Finding], int]:
    """One finding per (rule, path, secret): its first commit, and the commits holding it.

    Returns the findings and the number of blobs with matches that no ref reaches.
    """
    best: dict[str, tuple[int, Finding]] = {}
    counts: dict[str, int] = {}
    dangling = 0
    config = builder.config
    for oid, (size, matches) in sweep.found.items():
        placements = where.placements.get(oid)
        if not placements:
            dangling += 1
            continue
        for p in placements:
            if config.is_excluded(p.path):
                builder.stats.skip("excluded")
                continue
            outcome = BlobOutcome(path=p.path, size=size, matches=matches)
            seen: set[str] = set()
            for f in builder.add(outcome, commit=p.commit, from_history=True):
                if f.fingerprint not in seen:
                    seen.add(f.fingerprint)
                    counts[f.fingerprint] = counts.get(f.fingerprint, 0) + p.commits
                current = best.get(f.fingerprint)
                if current is None or p.order < current[0]:
                    best[f.fingerprint] = (p.order, f)
    findings = [
        dataclasses.replace(f, commits_count=max(1, counts.get(fp, 1)))
        for fp, (_, f) in best.items()
    ]
    return findings, dangling


def scan_history(
    repo: Path,
    *,
    config: Config,
    ruleset: RuleSet,
    scanner: Scanner,
    options: EngineOptions,
    jobs: int,
    rev_args: list[str] | None,
    progress: bool,
    early: EarlyListing | None = None,
) -> ScanReport:
    """Sweep every blob reachable from any ref, or (with ``rev_args``) what those commits add
    (``early``: the blob listing, started before, for a whole sweep)."""
    started = time.monotonic()
    info = open_repo(repo)
    if rev_args is not None:
        return _scan_range(info, rev_args, config=config, ruleset=ruleset, scanner=scanner, started=started)
    builder = ReportBuilder(ruleset=ruleset, config=config)
    if info.shallow:
        builder.warnings.append(
            f"{repo}: shallow clone: history before its oldest fetched commits is not scanned, "
            "and those commits count as introducing every file they hold (git fetch --unshallow "
            "for a full sweep)"
        )
    # Workers start (fork, load rules and database) while the blobs are listed.
    workers = _Workers(jobs, ruleset, options) if jobs > 1 and _packs_bytes(info) >= _PREFORK_PACK_BYTES else None
    # Once something is found, git walks the commits for placing it while the scan goes on,
    # and what reporting it needs is loaded.
    walks: list[CommitWalk] = []

    def walk_ahead() -> None:
        if not walks:
            walks.append(CommitWalk(info))
            threading.Thread(target=_ready_to_report, daemon=True).start()

    try:
        listing = list_blobs(info, early)
        max_size = config.max_file_size
        to_scan = [(oid, size) for oid, size in listing.blobs if size <= max_size]
        too_large = {oid: size for oid, size in listing.blobs if size > max_size}
        sweep = _scan_all(
            info, to_scan, scanner=scanner, ruleset=ruleset, options=options, jobs=jobs,
            progress=progress, on_finding=walk_ahead, workers=workers,
        )
        sweep.unreadable.extend(listing.unreadable)
        return finish_history(info, sweep, too_large, builder, started=started, walk=walks[0] if walks else None)
    finally:
        if workers is not None:
            workers.close()  # (unused if the sweep was too small for them)
        for walk in walks:
            walk.close()


def _ready_to_report() -> None:
    """Loads what placing the first findings needs (the control mapping, the ``regex`` module
    and the patterns that judge a finding's path and value), on a thread while the scan goes
    on: the 20-30 ms the sweep's serial end would otherwise pay in the parent, which scans
    nothing itself when workers do."""
    try:
        from nhiscan.engine.context import looks_like_placeholder, path_kind
        from nhiscan.mapping.controls import load_mapping

        load_mapping()
        path_kind("warm-up/tests/docs/README.example.md")
        looks_like_placeholder(b"warm-up value")
    except Exception:  # noqa: BLE001 - only a head start: reporting loads them itself
        pass


def finish_history(
    info: RepoInfo,
    sweep: SweepResult,
    too_large: dict[str, int],
    builder: ReportBuilder,
    *,
    started: float,
    root: str | None = None,
    walk: CommitWalk | None = None,
) -> ScanReport:
    """After the blobs are scanned: place findings in history (path, introducing commit,
    commit count), name unreadable and oversized blobs, and fill the stats.

    Shared by ``scan_history`` and the distributed sweep (which scans blob ranges on a cluster).
    If git cannot map the blobs to commits, the findings are reported by blob id with an error.
    ``walk`` is that commit walk started ahead.
    """
    interesting = set(sweep.found) | set(sweep.unreadable)
    if interesting:
        interesting |= set(too_large)
    try:
        where = locate_blobs(info, interesting, walk)
    except GitError as exc:
        # The commit walk failed (a corrupt commit or tree): keep what the blob scan found,
        # named by blob id, and let the error make the exit code 2.
        builder.error(ReadError(path=str(info.root), message=f"cannot map blobs to commits: {exc}"))
        where = HistoryMap()
        for oid, (size, matches) in sorted(sweep.found.items()):
            builder.add(BlobOutcome(path=f"(blob {oid})", size=size, matches=matches), from_history=True)
        sweep = dataclasses.replace(sweep, found={})

    unplaced = list(builder.findings)  # only when the commit walk failed
    loose = [oid for oid in sweep.found if oid not in where.placements]
    if loose:
        # Blobs in no commit's tree may still be reachable: a ref or tag pointing at a blob.
        tagged = refs_to_blobs(info)
        for oid in loose:
            if oid in tagged:
                size, matches = sweep.found.pop(oid)
                unplaced.extend(
                    builder.add(BlobOutcome(path=tagged[oid], size=size, matches=matches), from_history=True)
                )
        builder.findings = list(unplaced)
    findings, dangling = _place_findings(builder, sweep, where)
    builder.findings = unplaced + findings
    for oid in sorted(set(sweep.unreadable)):
        placed = where.placements.get(oid)
        name = f"{placed[0].path} (blob {oid[:12]})" if placed else f"object {oid}"
        builder.error(ReadError(path=name, message=UNREADABLE))
    for oid, size in too_large.items():
        placed = where.placements.get(oid)
        if interesting and not placed:
            continue  # not reachable from any ref
        name = f"{placed[0].path} (blob {oid[:12]})" if placed else f"blob {oid}"
        builder.skip(Skipped(path=name, reason=f"larger than --max-file-size ({size} bytes)"))
    if dangling:
        builder.warnings.append(
            f"{dangling} blob{'s' if dangling != 1 else ''} with possible secrets "
            f"{'are' if dangling != 1 else 'is'} in the object store but reachable from no ref "
            "(left by a rebase, amend or reset); not reported. They are local only, until "
            "git gc prunes them"
        )
    if sweep.binary:
        builder.stats.skipped["binary"] = builder.stats.skipped.get("binary", 0) + sweep.binary
        builder.warnings.append(f"skipped {sweep.binary} binary blob{'s' if sweep.binary != 1 else ''}")
    builder.warnings.extend(sweep.warnings)

    report = builder.report(source_kind="git", root=root or str(info.root), started=started)
    st = report.stats
    st.files = sweep.scanned
    st.blobs = sweep.scanned
    st.bytes = sweep.bytes
    st.allowed += sweep.allowed  # inline directives, counted once per blob
    st.timeouts = sweep.timeouts
    st.commits = where.commits
    report.head_commit = info.head
    report.repository_uri = repository_uri(info)
    return report


# ---- commit ranges and staged changes ---------------------------------------------------------

class _ChangeScanner:
    """Scans changed files whole and keeps the matches that touch an added line."""

    def __init__(self, info: RepoInfo, builder: ReportBuilder, scanner: Scanner, max_size: int) -> None:
        self.builder = builder
        self.scanner = scanner
        self.max_size = max_size
        self.cat = CatFile(info.root)
        self.blobs: set[str] = set()
        self._cache: dict[str, BlobOutcome | None] = {}

    def close(self) -> None:
        self.cat.close()

    def _outcome(self, change: FileChange) -> BlobOutcome | None:
        if change.oid in self._cache:
            cached = self._cache[change.oid]
            return dataclasses.replace(cached, path=change.path) if cached is not None else None
        try:
            data = self.cat.get(change.oid, self.max_size)
        except BlobTooLarge as exc:
            self.builder.skip(
                Skipped(path=change.path, reason=f"larger than --max-file-size ({exc.size} bytes)")
            )
            return None
        if data is None:
            self.builder.error(ReadError(path=change.path, message=f"blob {change.oid[:12]}: {UNREADABLE}"))
            return None
        self.blobs.add(change.oid)
        outcome = scan_bytes(self.scanner, change.path, data)
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[change.oid] = outcome
        return outcome

    def scan(self, change: FileChange, *, from_history: bool) -> list[Finding]:
        if self.builder.config.is_excluded(change.path):
            self.builder.stats.skip("excluded")
            return []
        outcome = self._outcome(change)
        if outcome is None:
            return []
        added = change.added
        if added is not None and outcome.skipped is None:
            kept = tuple(
                m for m in outcome.matches
                if any(line in added for line in range(m.line, m.end_line + 1))
            )
            outcome = dataclasses.replace(outcome, matches=kept)
        return self.builder.add(outcome, commit=change.commit, from_history=from_history)


def _scan_range(
    info: RepoInfo,
    rev_args: list[str],
    *,
    config: Config,
    ruleset: RuleSet,
    scanner: Scanner,
    started: float,
) -> ScanReport:
    commits = list_commits(info, rev_args)
    builder = ReportBuilder(ruleset=ruleset, config=config)
    changes = _ChangeScanner(info, builder, scanner, config.max_file_size)
    best: dict[str, Finding] = {}
    counts: dict[str, int] = {}
    ncommits = 0
    try:
        for cc in commit_changes(info, commits):
            ncommits += 1
            for path, reason in cc.skipped:
                builder.skip(Skipped(path=path, reason=reason))
            in_commit: set[str] = set()
            for change in cc.files:
                for f in changes.scan(change, from_history=True):
                    if f.fingerprint not in in_commit:
                        in_commit.add(f.fingerprint)
                        counts[f.fingerprint] = counts.get(f.fingerprint, 0) + 1
                    best.setdefault(f.fingerprint, f)
    except GitError as exc:
        # git could not produce a commit's changes (a corrupt object): report what was
        # scanned before it, and make the exit code 2.
        builder.error(ReadError(path=str(info.root), message=f"stopped after {ncommits} commits: {exc}"))
    finally:
        changes.close()
    builder.findings = [dataclasses.replace(f, commits_count=counts[fp]) for fp, f in best.items()]
    report = builder.report(source_kind="git", root=str(info.root), started=started)
    report.stats.commits = ncommits
    report.stats.blobs = len(changes.blobs)
    report.head_commit = info.head
    report.repository_uri = repository_uri(info)
    return report


def scan_staged(info: RepoInfo, *, config: Config, ruleset: RuleSet, scanner: Scanner) -> ScanReport:
    """What the next commit would add: lines added in the index against HEAD."""
    started = time.monotonic()
    if info.bare:
        raise GitError(f"{info.path}: a bare repository has no staged changes (--staged needs a work tree)")
    cc = staged_changes(info)
    builder = ReportBuilder(ruleset=ruleset, config=config)
    changes = _ChangeScanner(info, builder, scanner, config.max_file_size)
    try:
        for path, reason in cc.skipped:
            builder.skip(Skipped(path=path, reason=reason))
        for change in cc.files:
            changes.scan(change, from_history=False)
    finally:
        changes.close()
    report = builder.report(source_kind="staged", root=str(info.root), started=started)
    report.stats.blobs = len(changes.blobs)
    report.head_commit = info.head
    return report
