"""The matching engine: prefilter, windowed regex confirmation, entropy and value filters."""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from nhiscan.engine.lazyre import lazy

from nhiscan.engine.decode import decoded_segments
from nhiscan.engine.placeholders import is_code_or_dummy, is_placeholder
from nhiscan.engine.prefilter import (
    DECODE_FILE,
    DECODE_LINE,
    DECODE_TRIGGER_PATTERNS,
    Hits,
    HyperscanPrefilter,
    KeywordPrefilter,
    Prefilter,
    hyperscan_available,
    max_width,
)
from nhiscan.cache import cache_dir as default_cache_dir
from nhiscan.engine.text import LineIndex, shannon_entropy
from nhiscan.engine.validators import VALIDATORS
from nhiscan.model import Match, NhiKind, Rule, RuleSet

if TYPE_CHECKING:
    import regex

Backend = Literal["auto", "hyperscan", "aho-corasick"]

# How far past a hit the confirmation window reaches, by rule shape (bytes). Windows are then
# widened to whole lines (up to _SNAP bytes each way) so \b and ^/$ see real boundaries.
_WINDOW_SINGLE_LINE = 512
_WINDOW_MULTILINE = 16384
_SNAP = 4096
_MAX_LINE_TEXT = 65536
# Confirmed regions remembered per scanner (history sweeps see the same lines again and again).
_CONFIRM_CACHE_ENTRIES = 50_000
# Encoded spans found in a region, remembered by the region's bytes, for the same reason
# (decoding costs ~100 us a region: most of a history sweep's decoding was of lines it had
# decoded in an earlier version of the file). Bounded by the bytes of regions and decodings.
_DECODE_CACHE_BYTES = 16 * 1024 * 1024

# Inline directives: ours, and those of gitleaks and detect-secrets so teams can switch.
_INLINE_ALLOW = lazy(rb"nhiscan:allow|gitleaks:allow|pragma:\s*allowlist[ -]secret")
_NEXTLINE_ALLOW = lazy(rb"pragma:\s*allowlist[ -]nextline[ -]secret|nhiscan:allow-next-line")


def _window(rule: Rule) -> int:
    """Upper bound on the rule's match length, from the pattern where it can be computed."""
    limit = _WINDOW_MULTILINE if rule.multiline else _WINDOW_SINGLE_LINE
    return max(16, min(max_width(rule.regex), limit))


@dataclass
class _CompiledRule:
    rule: Rule
    pattern: regex.Pattern[bytes]
    window: int
    validator: Callable[[bytes], bool] | None
    allow: tuple[regex.Pattern[bytes], ...]
    allow_match: tuple[regex.Pattern[bytes], ...]
    keywords: tuple[bytes, ...]
    generic: bool


_Candidate = tuple[_CompiledRule, Match, int, bool]
"""(rule, match, length of the whole match, found in decoded text)."""


@dataclass
class BlobResult:
    """What the engine found in one blob."""

    matches: list[Match] = field(default_factory=list)
    allowed: int = 0
    """Matches dropped by an inline allow directive."""
    warnings: list[str] = field(default_factory=list)
    timeouts: int = 0


class Scanner:
    """Scans bytes with a rule set. Build once per process; ``scan`` is the hot path."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        backend: Backend = "auto",
        regex_timeout: float = 2.0,
        cache_dir: Path | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.regex_timeout = regex_timeout
        self._compiled: list[_CompiledRule | None] = [None] * len(ruleset.rules)
        if backend == "auto":
            backend = "hyperscan" if hyperscan_available() else "aho-corasick"
        self.backend: str = backend
        self._cache_dir = cache_dir
        self._prefilter: Prefilter | None = None
        self._confirmed: dict[tuple[int, bytes], tuple[_Span, ...]] = {}
        self._decoded: dict[bytes, tuple[tuple[int, int, bytes], ...]] = {}
        self._decoded_bytes = 0
        self._index = {r.id: i for i, r in enumerate(ruleset.rules)}

    @property
    def prefilter(self) -> Prefilter:
        """Built at first use (loading the Hyperscan database takes some 15 ms): a process
        that leaves the scanning to worker processes never needs its own."""
        if self._prefilter is None:
            if self.backend == "hyperscan":
                self._prefilter = HyperscanPrefilter(
                    self.ruleset.rules,
                    digest=self.ruleset.digest,
                    cache_dir=self._cache_dir if self._cache_dir is not None else default_cache_dir(),
                )
            else:
                self._prefilter = KeywordPrefilter(self.ruleset.rules)
        return self._prefilter

    def _rule(self, idx: int) -> _CompiledRule:
        compiled = self._compiled[idx]
        if compiled is None:
            import regex

            rule = self.ruleset.rules[idx]
            compiled = _CompiledRule(
                rule=rule,
                pattern=regex.compile(rule.regex.encode()),
                window=_window(rule),
                validator=VALIDATORS[rule.checksum] if rule.checksum else None,
                allow=tuple(regex.compile(a.encode()) for a in rule.allow_regexes),
                allow_match=tuple(regex.compile(a.encode()) for a in rule.allow_match_regexes),
                keywords=tuple(k.encode() for k in rule.keywords),
                generic=rule.nhi_kind is NhiKind.GENERIC_CREDENTIAL,
            )
            self._compiled[idx] = compiled
        return compiled

    def scan(
        self, data: bytes, *, label: str = "<bytes>", decode: bool = True, hits: Hits | None = None
    ) -> BlobResult:
        """Find every confirmed secret in ``data`` (already normalized text bytes).

        ``hits`` are the prefilter's hits for ``data`` when the caller already has them (a
        history sweep works them out from the delta base's; see
        :meth:`HyperscanPrefilter.delta_hits`).

        With ``decode``, base64 and percent-encoded spans in files that look like they carry
        encoded credentials are decoded (bounded) and scanned too; their findings are placed at
        the encoded span.
        """
        result = BlobResult()
        candidates: list[_Candidate] = []
        if hits is None:
            hits = self.prefilter.hits(data)
        whole_file = hits.pop(DECODE_FILE, None)
        line_hits = hits.pop(DECODE_LINE, None)
        if hits:
            self._scan_plain(data, hits, label, result, candidates)
        if decode and (whole_file or line_hits):
            if whole_file and self._confirm_trigger(data, 0, len(data)):
                regions = [(0, len(data))]
            else:
                regions = [
                    (a, b) for a, b in _regions(data, line_hits or [], 0)
                    if self._confirm_trigger(data, a, b)
                ]
            if regions:
                self._scan_decoded(data, regions, label, result, candidates)
        result.matches = _resolve_overlaps(candidates)
        return result

    def _confirm_trigger(self, data: bytes, start: int, end: int) -> bool:
        """Hyperscan reports exact trigger matches; the keyword prefilter only literals."""
        if self.backend == "hyperscan":
            return True
        return _DECODE_WORTHY.search(data, start, end) is not None

    def _scan_decoded(
        self,
        data: bytes,
        regions: list[tuple[int, int]],
        label: str,
        result: BlobResult,
        candidates: list[_Candidate],
    ) -> None:
        index = LineIndex(data)
        segments = [(a + s, a + e, raw) for a, b in regions for s, e, raw in self._segments(data[a:b])]
        for start, end, raw in segments:
            # The key the encoded value is assigned to (a Kubernetes Secret's ``password:``)
            # goes in front, so that rules anchored on a credential name still see it.
            prefix = _assignment_key(data, start)
            inner = self.scan(prefix + raw, label=label, decode=False)
            result.timeouts += inner.timeouts
            result.warnings.extend(inner.warnings)
            for m in inner.matches:
                if m.end <= len(prefix):
                    continue
                if _inline_allowed(data, index, start, end):
                    result.allowed += 1
                    continue
                line, column = index.position(start)
                end_line, end_column = index.position(end)
                placed = dataclasses.replace(
                    m, start=start, end=end, line=line, column=column,
                    end_line=end_line, end_column=end_column,
                )
                candidates.append((self._rule(self._index[m.rule_id]), placed, end - start, True))

    def _segments(self, region: bytes) -> tuple[tuple[int, int, bytes], ...]:
        """``decoded_segments`` of one region (a function of its bytes alone), remembered."""
        segments = self._decoded.get(region)
        if segments is None:
            segments = tuple(decoded_segments(region, max_depth=2))
            size = len(region) + sum(len(raw) for _, _, raw in segments)
            if size <= _DECODE_CACHE_BYTES // 16:
                if self._decoded_bytes + size > _DECODE_CACHE_BYTES:
                    self._decoded.clear()
                    self._decoded_bytes = 0
                self._decoded[region] = segments
                self._decoded_bytes += size
        return segments

    def _scan_plain(
        self,
        data: bytes,
        hits: dict[int, list[int]],
        label: str,
        result: BlobResult,
        candidates: list[_Candidate],
    ) -> None:
        found: list[tuple[_CompiledRule, _Span]] = []
        for idx in sorted(hits):
            crule = self._rule(idx)
            for start, end in _regions(data, hits[idx], crule.window):
                try:
                    spans = self._spans(idx, crule, data[start:end])
                except TimeoutError:
                    result.timeouts += 1
                    result.warnings.append(
                        f"{label}: rule {crule.rule.id} exceeded its {self.regex_timeout:g}s "
                        "regex time bound; part of the file was not checked by it"
                    )
                    continue
                found.extend((crule, sp.shifted(start)) for sp in spans)
        if not found:
            return
        index = LineIndex(data)
        for crule, sp in found:
            if _inline_allowed(data, index, sp.match_start, sp.secret_end):
                result.allowed += 1
                continue
            line, column = index.position(sp.secret_start)
            end_line, end_column = index.position(sp.secret_end)
            public_id = (
                data[sp.public_start : sp.public_end].decode("utf-8", "replace")
                if sp.public_start >= 0
                else None
            )
            match = Match(
                rule_id=crule.rule.id,
                start=sp.secret_start,
                end=sp.secret_end,
                line=line,
                column=column,
                end_line=end_line,
                end_column=end_column,
                secret=data[sp.secret_start : sp.secret_end],
                entropy=sp.entropy,
                public_id=public_id,
            )
            candidates.append((crule, match, sp.match_end - sp.match_start, False))

    def quiet(self, hits: Hits, size: int, read: Callable[[list[tuple[int, int]]], bytes]) -> bool:
        """Whether :meth:`scan` of a blob of ``size`` bytes with these prefilter ``hits`` would
        give nothing at all (no match, none allowed, no regex timeout), found from the bytes
        around the hits alone: ``read(spans)`` returns the blob's bytes in ``spans`` (sorted,
        disjoint ``(start, end)`` pairs), one span after the other. Each rule's positions are
        sorted, as both prefilters give them (and as :meth:`scan` needs them too).

        A history sweep asks this of a version it has not built: most hits in a history are
        words like ``password`` in code that confirm nothing, version after version. Each
        hit's region depends only on the bytes within its rule's window and a line snap of
        it; regions merge only where they overlap, so every region lies in one span. A line
        the prefilter marked for decoding counts as quiet when nothing in it decodes. False
        when it cannot tell that way (a whole file to decode).
        """
        if DECODE_FILE in hits:
            return False
        windows = {idx: 0 if idx == DECODE_LINE else self._rule(idx).window for idx in hits}
        reach: list[tuple[int, int]] = []
        for idx, positions in hits.items():
            r = windows[idx] + _SNAP
            reach.extend((max(0, p - r), min(size, p + r)) for p in positions)
        reach.sort()
        spans: list[tuple[int, int]] = []
        for lo, hi in reach:
            if spans and lo <= spans[-1][1]:
                if hi > spans[-1][1]:
                    spans[-1] = (spans[-1][0], hi)
            else:
                spans.append((lo, hi))
        joined = read(spans)
        starts: list[int] = []  # where each span starts in the blob
        shifts: list[int] = []  # ... minus where it starts in ``joined``
        at = 0
        for lo, hi in spans:
            starts.append(lo)
            shifts.append(lo - at)
            at += hi - lo
        for idx, positions in hits.items():
            crule = None if idx == DECODE_LINE else self._rule(idx)
            k = 0
            while k < len(positions):
                j = bisect_right(starts, positions[k]) - 1  # (the span holding this hit's reach)
                shift = shifts[j]
                end = spans[j][1]
                m = k
                while m < len(positions) and positions[m] <= end:
                    m += 1
                for lo, hi in _regions(joined, positions[k:m], windows[idx], shift, size):
                    if crule is None and not self._confirm_trigger(joined, lo - shift, hi - shift):
                        continue  # (as scan() drops it)
                    region = joined[lo - shift : hi - shift]
                    try:
                        if self._segments(region) if crule is None else self._spans(idx, crule, region):
                            return False
                    except TimeoutError:
                        return False
                k = m
        return True

    def _spans(self, idx: int, crule: _CompiledRule, region: bytes) -> tuple[_Span, ...]:
        """:meth:`_confirm_region`, remembered by the region's bytes (TimeoutError is not)."""
        cache = self._confirmed
        key = (idx, region)
        spans = cache.get(key)
        if spans is None:
            spans = self._confirm_region(crule, region)
            if len(cache) >= _CONFIRM_CACHE_ENTRIES:
                cache.clear()
            cache[key] = spans
        return spans

    def _confirm_region(self, crule: _CompiledRule, region: bytes) -> tuple[_Span, ...]:
        """The rule's confirmed matches in one region, offsets relative to the region.

        Depends only on the region's bytes, so it is cached: in a history sweep the same lines
        recur, unchanged, across the versions of a file (each distinct candidate confirmed once).
        """
        rule = crule.rule
        out = []
        for m in crule.pattern.finditer(region, timeout=self.regex_timeout):
            s, e = m.span(rule.secret_group)
            if s < 0 or e <= s:
                continue
            whole = m.group(0).lower()
            if not any(k in whole for k in crule.keywords):
                continue
            secret = region[s:e]
            entropy = shannon_entropy(secret)
            if rule.min_entropy is not None and entropy < rule.min_entropy:
                continue
            if crule.validator is not None and not crule.validator(secret):
                continue
            if any(a.search(secret) for a in crule.allow):
                continue
            if crule.allow_match:
                # From the line's start: the name a value is assigned to may precede the match
                # (generic matches start at the credential word: ``Next`` + ``Token``).
                line_start = region.rfind(b"\n", 0, m.start()) + 1
                if any(a.search(region, line_start, m.end()) for a in crule.allow_match):
                    continue
            if is_placeholder(secret):
                continue
            if rule.value_check and is_code_or_dummy(secret):
                continue
            ps, pe = m.span(rule.public_group) if rule.public_group is not None else (-1, -1)
            out.append(
                _Span(
                    match_start=m.start(), match_end=m.end(), secret_start=s, secret_end=e,
                    public_start=ps, public_end=pe, entropy=round(entropy, 3),
                )
            )
        return tuple(out)


@dataclass(frozen=True)
class _Span:
    """A confirmed match: offsets of the whole match, the secret and the public id (or -1)."""

    match_start: int
    match_end: int
    secret_start: int
    secret_end: int
    public_start: int
    public_end: int
    entropy: float

    def shifted(self, by: int) -> _Span:
        if not by:
            return self
        return _Span(
            match_start=self.match_start + by,
            match_end=self.match_end + by,
            secret_start=self.secret_start + by,
            secret_end=self.secret_end + by,
            public_start=self.public_start + by if self.public_start >= 0 else -1,
            public_end=self.public_end + by if self.public_start >= 0 else -1,
            entropy=self.entropy,
        )


# Decoding costs more than scanning; it runs only in files the prefilter marked (see
# DECODE_TRIGGER_PATTERNS), after this exact check.
_DECODE_WORTHY = lazy(b"|".join(b"(?:" + p + b")" for _, p in DECODE_TRIGGER_PATTERNS))


_KEY_BEFORE = lazy(rb"""([A-Za-z_][\w.-]{0,60})["']?\s{0,3}[:=]\s{0,3}["']?$""")


def _assignment_key(data: bytes, start: int) -> bytes:
    line_start = data.rfind(b"\n", max(0, start - 200), start) + 1
    m = _KEY_BEFORE.search(data, line_start, start)
    return m.group(1) + b": " if m else b""


def _regions(
    data: bytes, positions: list[int], window: int, offset: int = 0, size: int | None = None
) -> list[tuple[int, int]]:
    """Merged byte ranges around hit offsets, widened to line boundaries.

    ``data`` may hold only part of a blob of ``size`` bytes: the blob's byte ``i`` is
    ``data[i - offset]`` for every ``i`` within ``window + _SNAP`` of a position (what
    :meth:`Scanner.quiet` reads); offsets are the blob's either way.
    """
    n = len(data) if size is None else size
    out: list[tuple[int, int]] = []
    for p in positions:
        lo = max(0, p - window)
        hi = min(n, p + window)
        if lo > 0:
            j = data.rfind(b"\n", max(0, lo - _SNAP) - offset, lo - offset)
            lo = j + 1 + offset if j >= 0 else max(0, lo - _SNAP)
        if hi < n:
            j = data.find(b"\n", hi - offset, min(n, hi + _SNAP) - offset)
            hi = j + offset if j >= 0 else min(n, hi + _SNAP)
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _inline_allowed(data: bytes, index: LineIndex, start: int, end: int) -> bool:
    """An allow directive on any line of the match, or a next-line directive just above it."""
    lo, _ = index.line_bounds(start)
    _, hi = index.line_bounds(max(start, end - 1))
    if _INLINE_ALLOW.search(data, lo, min(hi, lo + _MAX_LINE_TEXT)):
        return True
    if lo > 0:
        plo, phi = index.line_bounds(lo - 1)
        if _NEXTLINE_ALLOW.search(data, plo, min(phi, plo + _MAX_LINE_TEXT)):
            return True
    return False


def _resolve_overlaps(candidates: list[_Candidate]) -> list[Match]:
    """One finding per secret: drop a less specific rule's match that overlaps a better one.

    Specific (non-generic) rules beat generic ones; then higher confidence; then higher
    ``priority`` (container formats such as JWTs, ``.npmrc`` lines and database URLs set -1, so
    the provider's own rule for the token inside wins); then the longer whole match (a rule that
    also matched the provider's context around the same value is the more specific); then
    higher severity, the longer secret, and the rule id. A match in decoded text beats one on
    the encoded form (the decoded value is the credential) before match lengths are compared.
    """
    if len(candidates) <= 1:
        return [m for _, m, _, _ in candidates]

    def rank(item: _Candidate) -> tuple[int, int, int, int, int, int, int, str]:
        c, m, whole, decoded = item
        return (
            1 if c.generic else 0,
            -c.rule.confidence.rank,
            -c.rule.priority,
            0 if decoded else 1,
            -whole,
            -c.rule.severity.rank,
            -(m.end - m.start),
            c.rule.id,
        )

    kept: list[Match] = []
    for _, m, _, _ in sorted(candidates, key=rank):
        if any(m.start < k.end and k.start < m.end for k in kept):
            continue
        kept.append(m)
    kept.sort(key=lambda m: (m.start, m.rule_id))
    return kept
