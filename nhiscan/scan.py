"""The library entry points: build the engine, run a source through it, collect a report.

Flow: source -> engine -> finding (mapping) -> allow/baseline filters -> ScanReport.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nhiscan.config import Config
from nhiscan.errors import RuleError
from nhiscan.engine.context import adjust_confidence
from nhiscan.engine.scanner import Backend, Scanner
from nhiscan.engine.text import LineIndex, has_bom, is_binary, normalize
from nhiscan.model import CommitInfo, Finding, Match, ReadError, ScanReport, Skipped, Stats
from nhiscan.rules import RuleSet, load_rules
from nhiscan.sources.files import FileEntry, list_files, read_chunks, read_file, scan_root
from nhiscan.sources.gitcmd import work_tree_root

if TYPE_CHECKING:
    from nhiscan.engine.prefilter import Hits
    from nhiscan.mapping.controls import ControlMapping

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total)."""

# Below this much work a process pool costs more than it saves.
_PARALLEL_MIN_BYTES = 8 * 1024 * 1024  # measured: smaller trees finish before workers would start
_BATCH_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    backend: Backend = "auto"
    regex_timeout: float = 2.0
    cache_dir: Path | None = None


def config_search_root(paths: list[str]) -> Path:
    """The repository root of the first scanned path, else that path's folder."""
    first = Path(paths[0]) if paths else Path(".")
    folder = first if first.is_dir() else first.parent
    top = work_tree_root(folder) if folder.exists() else None
    return top if top is not None else Path(os.path.abspath(folder))


def build_ruleset(config: Config) -> RuleSet:
    try:
        return load_rules(config.extend, disable=config.disable)
    except RuleError as exc:
        if config.path is not None and str(exc).startswith("rules.disable"):
            raise RuleError(f"{config.path}: {exc}") from None
        raise


def build_scanner(ruleset: RuleSet, options: EngineOptions) -> Scanner:
    return Scanner(
        ruleset,
        backend=options.backend,
        regex_timeout=options.regex_timeout,
        cache_dir=options.cache_dir,
    )


@dataclass(frozen=True, kw_only=True)
class BlobOutcome:
    """What happened to one input: matches, or skipped, or unreadable."""

    path: str
    size: int
    matches: tuple[Match, ...] = ()
    skipped: str | None = None
    error: str | None = None
    allowed: int = 0
    warnings: tuple[str, ...] = ()
    timeouts: int = 0

    @property
    def is_clean(self) -> bool:
        """Scanned, and nothing to report or count beyond the file and its bytes."""
        return not (
            self.matches or self.skipped is not None or self.error is not None
            or self.allowed or self.warnings or self.timeouts
        )


def scan_bytes(
    scanner: Scanner, path: str, data: bytes, *, hits_for: Callable[[bytes], Hits] | None = None
) -> BlobOutcome:
    """Scan one blob of raw bytes (binary sniffing and BOM decoding included).

    ``hits_for`` gives the prefilter's hits for a blob scanned as it is (no BOM to decode):
    a history sweep works them out from the blob's delta base.
    """
    text = normalize(data)
    if text is None:
        return BlobOutcome(path=path, size=len(data), skipped="binary")
    hits = hits_for(text) if hits_for is not None and text is data else None
    if hits is not None and not hits:
        return BlobOutcome(path=path, size=len(data))  # (most of a history: nothing to confirm)
    result = scanner.scan(text, label=path, hits=hits)
    return BlobOutcome(
        path=path,
        size=len(data),
        matches=tuple(result.matches),
        allowed=result.allowed,
        warnings=tuple(result.warnings),
        timeouts=result.timeouts,
    )


def _scan_entry(scanner: Scanner, entry: FileEntry, max_size: int) -> BlobOutcome:
    try:
        if entry.size > CHUNK_BYTES:
            return _scan_in_chunks(scanner, entry, max_size)
        data = read_file(entry, max_size)
    except ValueError as exc:
        return BlobOutcome(path=entry.path, size=entry.size, skipped=str(exc))
    except FileNotFoundError:
        return BlobOutcome(path=entry.path, size=entry.size, skipped="deleted during the scan")
    except OSError as exc:
        return BlobOutcome(path=entry.path, size=entry.size, error=exc.strerror or str(exc))
    return scan_bytes(scanner, entry.path, data)


# Files above CHUNK_BYTES are scanned piece by piece in bounded memory. Each piece is scanned
# with the CARRY_BYTES that follow it (cut at a line start), so a match of up to CARRY_BYTES
# that straddles two pieces is found whole, once.
CHUNK_BYTES = 32 * 1024 * 1024
CARRY_BYTES = 64 * 1024


def _scan_in_chunks(scanner: Scanner, entry: FileEntry, max_size: int) -> BlobOutcome:
    matches: list[Match] = []
    warnings: list[str] = []
    allowed = timeouts = 0
    base_offset = base_line = 0
    buf = b""
    pieces = read_chunks(entry, max_size, CHUNK_BYTES)
    pending = next(pieces, b"")
    first = True
    while pending or buf:
        buf += pending
        pending = next(pieces, b"")
        last = not pending
        if first:
            first = False
            if has_bom(buf):
                # Text with a byte-order mark is decoded as a whole (bounded by
                # --max-file-size): UTF-16/32 cannot be cut at any byte.
                rest = b"".join([pending, *pieces])
                return scan_bytes(scanner, entry.path, buf + rest)
            if is_binary(buf):
                return BlobOutcome(path=entry.path, size=entry.size, skipped="binary")
        if last:
            cut = len(buf)
        else:
            cut = buf.rfind(b"\n", 0, len(buf) - CARRY_BYTES) + 1
            if cut <= 0:  # one enormous line: cut inside it (columns after it are relative)
                cut = len(buf) - CARRY_BYTES
        result = scanner.scan(buf, label=entry.path)
        allowed += result.allowed
        timeouts += result.timeouts
        warnings.extend(result.warnings)
        for m in result.matches:
            if m.start >= cut:
                continue  # found again, whole, in the next piece
            matches.append(
                dataclasses.replace(
                    m,
                    start=m.start + base_offset,
                    end=m.end + base_offset,
                    line=m.line + base_line,
                    end_line=m.end_line + base_line,
                )
            )
        base_line += LineIndex(buf).line_of(cut) - 1
        base_offset += cut
        buf = buf[cut:]
        if last:
            break
    return BlobOutcome(
        path=entry.path, size=entry.size, matches=tuple(matches), allowed=allowed,
        warnings=tuple(warnings), timeouts=timeouts,
    )


# -- worker process state -------------------------------------------------------------------
_WORKER: Scanner | None = None


def _init_worker(ruleset: RuleSet, options: EngineOptions) -> None:
    global _WORKER
    _WORKER = build_scanner(ruleset, options)


def _scan_batch(entries: list[FileEntry], max_size: int) -> tuple[list[BlobOutcome], int, int]:
    """Outcomes worth reporting, plus the count and bytes of the clean files (most of them:
    sending each back as an object cost the parent more than counting them)."""
    assert _WORKER is not None
    kept: list[BlobOutcome] = []
    clean = clean_bytes = 0
    for e in entries:
        outcome = _scan_entry(_WORKER, e, max_size)
        if outcome.is_clean:
            clean += 1
            clean_bytes += outcome.size
        else:
            kept.append(outcome)
    return kept, clean, clean_bytes


class _PoolFeeder:
    """Starts a process pool once enough bytes are listed, and feeds it batches of paths."""

    def __init__(self, *, ruleset: RuleSet, options: EngineOptions, jobs: int, max_size: int) -> None:
        self.ruleset, self.options, self.jobs, self.max_size = ruleset, options, jobs, max_size
        self.listed_bytes = 0
        self.pool: Any = None
        self.futures: list[Any] = []
        self.batch: list[FileEntry] = []
        self.batch_bytes = 0

    @property
    def pool_started(self) -> bool:
        return self.pool is not None

    def worth_a_pool(self, entry: FileEntry) -> bool:
        self.listed_bytes += entry.size
        return self.jobs > 1 and self.listed_bytes >= _PARALLEL_MIN_BYTES

    def submit(self, entry: FileEntry) -> None:
        if self.pool is None:
            from concurrent.futures import ProcessPoolExecutor  # not imported by small scans

            self.pool = ProcessPoolExecutor(
                max_workers=self.jobs, initializer=_init_worker, initargs=(self.ruleset, self.options)
            )
        self.batch.append(entry)
        self.batch_bytes += entry.size
        if self.batch_bytes >= _BATCH_BYTES or len(self.batch) >= 256:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.futures.append(self.pool.submit(_scan_batch, self.batch, self.max_size))
            self.batch, self.batch_bytes = [], 0

    def finish(self, builder: ReportBuilder) -> None:
        """Wait for every batch and hand its outcomes to ``builder``."""
        if self.pool is None:
            return
        try:
            self._flush()
            for fut in self.futures:
                kept, clean, clean_bytes = fut.result()
                builder.stats.files += clean
                builder.stats.bytes += clean_bytes
                for outcome in kept:
                    builder.add(outcome)
        finally:
            self.close()

    def close(self) -> None:
        """On Ctrl-C (or any error) drop the queued batches instead of running them all."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class ReportBuilder:
    """Turns outcomes into findings, applying config allow entries, and keeps the counters."""

    def __init__(
        self,
        *,
        ruleset: RuleSet,
        config: Config,
        mapping: ControlMapping | None = None,
        config_prefix: str = "",
    ) -> None:
        self.ruleset = ruleset
        self.config = config
        self.config_prefix = config_prefix
        """Prepended to report paths for the config's globs, which are relative to the
        repository root (or the config file's folder) when a subfolder is scanned."""
        self._mapping = mapping
        self.stats = Stats()
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.errors: list[ReadError] = []
        self.warnings: list[str] = []

    @property
    def mapping(self) -> ControlMapping:
        """The control mapping, loaded with the first finding (a clean run never needs it)."""
        if self._mapping is None:
            from nhiscan.mapping.controls import load_mapping

            self._mapping = load_mapping()
        return self._mapping

    def add(
        self,
        outcome: BlobOutcome,
        *,
        commit: CommitInfo | None = None,
        from_history: bool = False,
        repo: str | None = None,
    ) -> list[Finding]:
        if outcome.error is not None:
            self.errors.append(ReadError(path=outcome.path, message=outcome.error))
            self.stats.errors += 1
            return []
        if outcome.skipped is not None:
            self.skip(Skipped(path=outcome.path, reason=outcome.skipped))
            return []
        self.stats.files += 1
        self.stats.bytes += outcome.size
        self.stats.allowed += outcome.allowed
        self.stats.timeouts += outcome.timeouts
        self.warnings.extend(outcome.warnings)
        added = []
        for m in outcome.matches:
            rule = self.ruleset.by_id[m.rule_id]
            if self.config.is_allowed(rule_id=rule.id, path=self.config_path(outcome.path), secret=m.secret):
                self.stats.allowed += 1
                continue
            # Test fixtures, documentation and placeholder-looking values lower the confidence;
            # a generic match there is not reported at all.
            confidence = adjust_confidence(rule, outcome.path, m.secret)
            if confidence is None:
                self.stats.allowed += 1
                continue
            from nhiscan.mapping.identity import make_finding

            f = make_finding(
                m, rule, path=outcome.path, mapping=self.mapping, commit=commit,
                from_history=from_history, repo=repo, confidence=confidence,
            )
            self.findings.append(f)
            added.append(f)
        return added

    def config_path(self, path: str) -> str:
        return self.config_prefix + path

    def skip(self, item: Skipped) -> None:
        self.skipped.append(item)
        self.stats.skip(_skip_category(item.reason))

    def error(self, item: ReadError) -> None:
        self.errors.append(item)
        self.stats.errors += 1

    def report(self, *, source_kind: str, root: str, started: float) -> ScanReport:
        self.stats.seconds = round(time.monotonic() - started, 3)
        self.findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule_id))
        return ScanReport(
            findings=self.findings,
            stats=self.stats,
            skipped=self.skipped,
            errors=self.errors,
            warnings=self.warnings,
            source_kind=source_kind,
            root=root,
        )


def _config_prefix(config: Config, scan_root: Path) -> str:
    """How the config's folder sees the scan root: ``sub/dir/`` when a subfolder is scanned.

    A scan root outside the config's folder gets a prefix no glob written for the repository
    matches (``../``), so an outer repository's allow entries never hide what was scanned.
    """
    if config.root is None:
        return ""
    rel = os.path.relpath(scan_root.resolve(), config.root.resolve())
    if rel == ".":
        return ""
    return rel.replace(os.sep, "/") + "/"


def _skip_category(reason: str) -> str:
    for key, cat in (
        ("binary", "binary"),
        ("max-file-size", "too_large"),
        ("symlink", "symlink"),
        ("submodule", "submodule"),
        ("regular file", "special"),
        ("excluded", "excluded"),
    ):
        if key in reason:
            return cat
    return "other"


def scan_paths(
    paths: list[str],
    *,
    config: Config,
    ruleset: RuleSet,
    scanner: Scanner,
    options: EngineOptions,
    jobs: int,
    no_ignore: bool = False,
) -> ScanReport:
    """Scan files and folders on disk."""
    started = time.monotonic()
    max_size = config.max_file_size
    builder = ReportBuilder(
        ruleset=ruleset, config=config, config_prefix=_config_prefix(config, scan_root(paths or ["."]))
    )
    feeder = _PoolFeeder(ruleset=ruleset, options=options, jobs=jobs, max_size=max_size)
    pending: list[FileEntry] = []

    def on_file(entry: FileEntry) -> None:
        # Large trees: batches go to the worker processes while the listing goes on.
        if config.is_excluded(builder.config_path(entry.path)):
            builder.stats.skip("excluded")
        elif feeder.pool_started:
            feeder.submit(entry)
        elif feeder.worth_a_pool(entry):
            for earlier in pending:
                feeder.submit(earlier)
            pending.clear()
            feeder.submit(entry)
        else:
            pending.append(entry)

    try:
        listing = list_files(
            paths, no_ignore=no_ignore, max_size=max_size, on_file=on_file if jobs > 1 else None
        )
        for s in listing.skipped:
            builder.skip(s)
        for e in listing.errors:
            builder.error(e)
        feeder.finish(builder)
        if jobs <= 1:
            for entry in listing.files:
                if config.is_excluded(builder.config_path(entry.path)):
                    builder.stats.skip("excluded")
                else:
                    pending.append(entry)
        for entry in pending:
            builder.add(_scan_entry(scanner, entry, max_size))
    finally:
        feeder.close()
    return builder.report(source_kind="files", root=str(listing.root), started=started)
