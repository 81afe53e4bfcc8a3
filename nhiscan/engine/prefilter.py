"""Prefilters: find where each rule may match, so the confirmation regex runs only there.

Two implementations of one interface:

* :class:`HyperscanPrefilter` compiles every rule's regex into one Hyperscan database (a rule
  Hyperscan cannot compile exactly, a multi-line one or one wider than 700 characters is
  represented by its keywords). It reports the end offset of every match.
* :class:`KeywordPrefilter` is the pure fallback: an Aho-Corasick automaton of every rule's
  keywords over the lower-cased bytes. It reports the end offset of every keyword.

Between versions of a file (a history sweep), the Hyperscan prefilter can also work out a
blob's hits from its delta base's (:meth:`HyperscanPrefilter.delta_hits`): a pattern of
bounded width matches the same way wherever the bytes around it were copied unchanged, so only
the stretches a delta inserted, and the seams between copied runs, are scanned again (without
building the blob: ``nhiscan._packdelta.partial`` hands over just those stretches). The hits
come out identical to a whole scan (tests compare both).

Both are supersets of the true matches: every match contains a keyword and ends at a reported
Hyperscan offset. The scanner confirms in a window around each hit, so both give the same
findings (a property test proves it).
"""

from __future__ import annotations

import json
import os
import platform
import re
import struct
from array import array
from bisect import bisect_right
from pathlib import Path
from typing import Any, Protocol

from nhiscan.cache import cache_key, mark_used, prune_stale
from nhiscan.model import Rule

Hits = dict[int, list[int]]
"""Rule index -> sorted end offsets of prefilter hits."""

DECODE_FILE = -1
"""Pseudo rule index: the whole file is worth decoding (a Kubernetes Secret's ``data:``)."""
DECODE_LINE = -2
"""Pseudo rule index: the lines at these offsets carry an encoded credential candidate."""
DECODE_TRIGGER_PATTERNS: tuple[tuple[int, bytes], ...] = (
    (DECODE_FILE, rb"kind:\s{0,3}[\"']?Secret"),     # a Kubernetes Secret's data
    (DECODE_LINE, rb'"auth"\s{0,3}:'),                # Docker config.json auths
    (DECODE_LINE, rb"_(?i:auth(?:token)?)\s{0,3}="),  # .npmrc
    (DECODE_LINE, rb"%(?:3[Aa]|40)"),                 # percent-escaped ':' or '@' (URL credentials)
    (DECODE_LINE, rb"Basic [A-Za-z0-9+/]{8}"),        # a basic-auth header
)
"""Signs of encoded credentials. Hyperscan finds them in the same pass as the rules; the
keyword prefilter reports the literals below, and the scanner confirms them with the patterns."""
DECODE_TRIGGER_LITERALS: tuple[tuple[int, str], ...] = (
    (DECODE_FILE, "kind:"), (DECODE_LINE, '"auth"'), (DECODE_LINE, "_auth"),
    (DECODE_LINE, "%3a"), (DECODE_LINE, "%40"), (DECODE_LINE, "basic "),
)


class Prefilter(Protocol):
    name: str

    def hits(self, data: bytes) -> Hits: ...


class KeywordPrefilter:
    """Aho-Corasick over lower-cased bytes (decoded as latin-1, so offsets are byte offsets)."""

    name = "aho-corasick"

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        import ahocorasick

        table: dict[str, list[int]] = {kw: [kind] for kind, kw in DECODE_TRIGGER_LITERALS}
        for idx, rule in enumerate(rules):
            for kw in rule.keywords:
                table.setdefault(kw, [])
                if idx not in table[kw]:
                    table[kw].append(idx)
        self._automaton = ahocorasick.Automaton()
        for kw, idxs in table.items():
            self._automaton.add_word(kw.encode("utf-8").decode("latin-1"), tuple(idxs))
        if table:
            self._automaton.make_automaton()
        self._empty = not table

    def hits(self, data: bytes) -> Hits:
        out: Hits = {}
        if self._empty:
            return out
        text = data.lower().decode("latin-1")
        for end, idxs in self._automaton.iter(text):
            for idx in idxs:
                out.setdefault(idx, []).append(end + 1)
        return out


_FLAGS_EXACT = 0
_MAX_HS_WIDTH = 700
# Part of the cache key: change it whenever the way rules become Hyperscan expressions changes.
_DB_LAYOUT = f"v10-{_MAX_HS_WIDTH}-{len(DECODE_TRIGGER_PATTERNS)}"


def max_width(pattern: str | bytes) -> int:
    """Longest possible match of ``pattern`` (a large number when unbounded or unknown).

    In characters for a ``str`` pattern, in bytes for a ``bytes`` one."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse
    try:
        return int(sre_parse.parse(pattern).getwidth()[1])
    except Exception:  # regex-only syntax
        return 1 << 30


# ``{,n}`` and ``{,}`` after an even run of backslashes (an odd one escapes the brace).
_OPEN_LOWER_BOUND = re.compile(r"(?<!\\)((?:\\\\)*)\{,(\d*)\}")


def _hs_expression(pattern: str) -> bytes:
    """A rule's regex as Hyperscan reads it: ``x{,3}`` is ``x{0,3}`` (and ``x{,}`` is
    ``x{0,}``) to Python's ``re`` and to ``regex``, but literal text to Hyperscan (PCRE
    syntax). Inside a character class the rewrite only adds a ``0`` to the class: a superset,
    which the confirmation regex settles."""
    return _OPEN_LOWER_BOUND.sub(r"\1{0,\2}", pattern).encode()


def _escape_literal(text: str) -> bytes:
    out = bytearray()
    for b in text.encode("utf-8"):
        out += b"\\x%02x" % b
    return bytes(out)


_ID_BIAS = 8
"""Added to rule indexes when packing hits (the decode triggers have negative ones)."""


class HyperscanPrefilter:
    """All rules in one Hyperscan block-mode database, cached on disk by the rules' hash.

    Every expression in it has a bounded width (at most ``width`` bytes): a rule whose regex
    Hyperscan cannot compile exactly, or that is multi-line or wider than 700 characters, is
    represented by its keywords. That bound is what lets :meth:`delta_hits` rescan only what a
    delta changed.
    """

    name = "hyperscan"

    def __init__(self, rules: tuple[Rule, ...], *, digest: str, cache_dir: Path | None) -> None:
        import hyperscan

        self._hs = hyperscan
        key = cache_key(digest, getattr(hyperscan, "__version__", "?"), platform.machine(), str(_DB_LAYOUT))
        cache_file = (cache_dir / f"hs-{key}.db") if cache_dir else None
        loaded = self._load(cache_file) if cache_file else None
        if loaded is None:
            self._db, self._ids, self.width = self._compile(rules)
            if cache_file:
                self._store(cache_file)
                prune_stale(cache_file.parent, keep=cache_file)
        else:
            self._db, self._ids, self.width = loaded
            assert cache_file is not None
            mark_used(cache_file)
        self._scale = max(self._ids, default=0) + _ID_BIAS + 1
        self.margins = (self.width + 1, 2)
        """(before, after): a match ending at offset p depends only on the bytes from
        ``p - before`` to ``p + after`` (the widest match and one byte more before it, for
        \\b and ^; two bytes after it, for $ before a final newline)."""
        self._scratch = hyperscan.Scratch(self._db)
        from nhiscan.engine.native import delta_module

        self.delta_module: Any = delta_module()
        """The C module (``partial`` and ``carry``) :meth:`delta_hits` needs, None where it is
        not built."""

    # -- building -------------------------------------------------------------------------
    def _compile(self, rules: tuple[Rule, ...]) -> tuple[Any, list[int], int]:
        """Every rule exactly where Hyperscan can; else its keywords.

        One combined compile is tried first (fast); only if Hyperscan rejects it are the rules
        tried one by one to find which it cannot take.
        """
        hs = self._hs
        exact: list[int] = []
        for idx, rule in enumerate(rules):
            # (Bytes, as Hyperscan sees them: at most 4 per character, so bounded too.)
            if not rule.multiline and max_width(rule.regex) <= _MAX_HS_WIDTH:
                exact.append(idx)
        try:
            return self._build(rules, set(exact))
        except hs.error:
            pass
        compiles = set()
        for idx in exact:
            try:
                hs.Database().compile(
                    expressions=[_hs_expression(rules[idx].regex)], ids=[0], elements=1, flags=[_FLAGS_EXACT]
                )
            except hs.error:
                continue
            compiles.add(idx)
        return self._build(rules, compiles)

    def _build(self, rules: tuple[Rule, ...], exact: set[int]) -> tuple[Any, list[int], int]:
        hs = self._hs
        items: list[tuple[bytes, int, int]] = []
        for idx, rule in enumerate(rules):
            if idx in exact:
                items.append((_hs_expression(rule.regex), _FLAGS_EXACT, idx))
            else:
                items.extend((_escape_literal(kw), hs.HS_FLAG_CASELESS, idx) for kw in rule.keywords)
        items.extend((pattern, 0, kind) for kind, pattern in DECODE_TRIGGER_PATTERNS)
        width = max(max_width(expr) for expr, _, _ in items)
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        # Hyperscan ids are positions in ``items``; ``ids`` maps them to rules.
        db.compile(
            expressions=[e for e, _, _ in items],
            ids=list(range(len(items))),
            elements=len(items),
            flags=[f for _, f, _ in items],
        )
        return db, [i for _, _, i in items], width

    def _load(self, path: Path) -> tuple[Any, list[int], int] | None:
        try:
            blob = path.read_bytes()
            (hlen,) = struct.unpack(">I", blob[:4])
            head = json.loads(blob[4 : 4 + hlen])
            db = self._hs.loadb(blob[4 + hlen :], self._hs.HS_MODE_BLOCK)
            return db, [int(i) for i in head["ids"]], int(head["width"])
        except (OSError, ValueError, KeyError, TypeError, struct.error, self._hs.error):
            return None

    def _store(self, path: Path) -> None:
        try:
            header = json.dumps({"ids": self._ids, "width": self.width}).encode()
            payload = struct.pack(">I", len(header)) + header + self._hs.dumpb(self._db)
            path.parent.mkdir(parents=True, exist_ok=True)
            import tempfile

            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hs-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache we cannot write only costs the next run a compile

    # -- scanning -------------------------------------------------------------------------
    def hits(self, data: bytes) -> Hits:
        """Every rule's match ends in ``data`` (the hot path of tree scans: nothing packed)."""
        out: Hits = {}
        ids = self._ids

        def on_match(expr_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            idx = ids[expr_id]
            lst = out.get(idx)
            if lst is None:
                out[idx] = [to]
            else:
                lst.append(to)

        if data:
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        # Hyperscan reports a rule's expressions out of end order now and then (an exact
        # pattern's end after a later literal's): Hits are sorted (linear when they are).
        for lst in out.values():
            lst.sort()
        return out

    def packed_hits(self, data: bytes) -> tuple[Hits, bytes]:
        """:meth:`hits`, and the same packed for the versions that follow (see
        :meth:`delta_hits`)."""
        ids = self._ids
        scale = self._scale
        packed: list[int] = []

        def on_match(expr_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            packed.append(to * scale + ids[expr_id] + _ID_BIAS)

        if data:
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        return self._unpack(packed)

    def delta_hits(
        self, fresh: tuple[bytes, bytes, bytes], base_hits: bytes, copies: bytes
    ) -> tuple[Hits, bytes]:
        """A version's hits, from its delta base's.

        ``base_hits`` are the base's packed hits (from :meth:`packed_hits` or this method);
        ``copies`` the runs the version copied from its base, and ``fresh`` what must be
        scanned again, as ``nhiscan._packdelta.partial`` gives them: the windows (int64
        pairs), the stretches of match ends in them that may differ from the base's (int64
        pairs), and the windows' bytes one after the other. The base's hits deep inside copied
        runs are carried over; the windows are scanned in one call. Identical to a whole scan:
        a match ending in a stretch lies inside its window with its :attr:`margins`, so what
        the window is joined to does not change it (and a window at the blob's start or end
        is the first or the last).
        """
        windows, ranges, joined = fresh
        ids = self._ids
        scale = self._scale
        assert self.delta_module is not None
        before, after = self.margins
        packed = list(array("q", self.delta_module.carry(base_hits, copies, before, after, scale))) if base_hits else []
        found: list[int] = []

        def on_match(expr_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            found.append(to * scale + ids[expr_id] + _ID_BIAS)

        if joined:
            self._db.scan(joined, match_event_handler=on_match, scratch=self._scratch)
        if found:
            wins = array("q", windows)
            starts = [0]  # where each window starts in ``joined``
            for i in range(0, len(wins) - 2, 2):
                starts.append(starts[-1] + wins[i + 1] - wins[i])
            bounds = array("q", ranges)
            los = bounds[0::2]
            for h in found:
                at, idx = divmod(h, scale)
                k = bisect_right(starts, at - 1) - 1  # the window holding the match's last byte
                end = wins[2 * k] + at - starts[k]
                j = bisect_right(los, end) - 1
                if j >= 0 and end <= bounds[2 * j + 1]:
                    packed.append(end * scale + idx)
        return self._unpack(packed)

    def _unpack(self, packed: list[int]) -> tuple[Hits, bytes]:
        if not packed:
            return {}, b""
        scale = self._scale
        packed.sort()
        out: Hits = {}
        for h in packed:
            end, idx = divmod(h, scale)
            lst = out.get(idx - _ID_BIAS)
            if lst is None:
                out[idx - _ID_BIAS] = [end]
            else:
                lst.append(end)
        return out, array("q", packed).tobytes()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("HyperscanPrefilter is per-process; build one in each worker")


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
