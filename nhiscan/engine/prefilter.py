"""Prefilters: find where each rule may match, so the confirmation regex runs only there.

Two implementations of one interface:

* :class:`HyperscanPrefilter` compiles every rule's regex into one Hyperscan database (a rule
  Hyperscan cannot compile exactly is compiled in prefilter mode, which matches a superset, and
  failing that its keywords are used). It reports the end offset of every match.
* :class:`KeywordPrefilter` is the pure fallback: an Aho-Corasick automaton of every rule's
  keywords over the lower-cased bytes. It reports the end offset of every keyword.

Both are supersets of the true matches: every match contains a keyword and ends at a reported
Hyperscan offset. The scanner confirms in a window around each hit, so both give the same
findings (a property test proves it).
"""

from __future__ import annotations

import json
import os
import platform
import struct
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
    (DECODE_LINE, rb"Basic [A-Za-z0-9+/]{8,}"),       # a basic-auth header
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
_MAX_HS_PREFILTER_WIDTH = 2000
# Part of the cache key: change it whenever the way rules become Hyperscan expressions changes.
_DB_LAYOUT = f"v5-{_MAX_HS_WIDTH}-{_MAX_HS_PREFILTER_WIDTH}-{len(DECODE_TRIGGER_PATTERNS)}"


def max_width(pattern: str) -> int:
    """Longest possible match of ``pattern`` (a large number when unbounded or unknown)."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse
    try:
        return int(sre_parse.parse(pattern).getwidth()[1])
    except Exception:  # regex-only syntax
        return 1 << 30
_MODE_EXACT, _MODE_PREFILTER, _MODE_KEYWORDS = "exact", "prefilter", "keywords"


def _escape_literal(text: str) -> bytes:
    out = bytearray()
    for b in text.encode("utf-8"):
        out += b"\\x%02x" % b
    return bytes(out)



class HyperscanPrefilter:
    """All rules in one Hyperscan block-mode database, cached on disk by the rules' hash."""

    name = "hyperscan"

    def __init__(self, rules: tuple[Rule, ...], *, digest: str, cache_dir: Path | None) -> None:
        import hyperscan

        self._hs = hyperscan
        key = cache_key(digest, getattr(hyperscan, "__version__", "?"), platform.machine(), str(_DB_LAYOUT))
        cache_file = (cache_dir / f"hs-{key}.db") if cache_dir else None
        loaded = self._load(cache_file) if cache_file else None
        if loaded is None:
            self._db, self._ids = self._compile(rules)
            if cache_file:
                self._store(cache_file)
                prune_stale(cache_file.parent, keep=cache_file)
        else:
            self._db, self._ids = loaded
            assert cache_file is not None
            mark_used(cache_file)
        self.modes: dict[int, str] = {}
        self._scratch = hyperscan.Scratch(self._db)

    # -- building -------------------------------------------------------------------------
    def _compile(self, rules: tuple[Rule, ...]) -> tuple[Any, list[int]]:
        """Every rule exactly where Hyperscan can; else in prefilter mode; else its keywords.

        One combined compile is tried first (fast); only if Hyperscan rejects it are the rules
        tried one by one to find which need a weaker mode.
        """
        hs = self._hs
        literal_rules: set[int] = set()
        plan: dict[int, list[tuple[bytes, int]]] = {}
        for idx, rule in enumerate(rules):
            width = max_width(rule.regex)
            if rule.multiline and width > _MAX_HS_PREFILTER_WIDTH:
                # PEM blocks and the like: slow to build, and their keywords are distinctive.
                literal_rules.add(idx)
            elif rule.multiline or width > _MAX_HS_WIDTH:
                plan[idx] = [(rule.regex.encode(), hs.HS_FLAG_PREFILTER)]
            else:
                plan[idx] = [(rule.regex.encode(), _FLAGS_EXACT)]
        try:
            return self._build(plan, rules, literal_rules)
        except hs.error:
            pass
        for idx in list(plan):
            pattern = rules[idx].regex.encode()
            for flag in (_FLAGS_EXACT, hs.HS_FLAG_PREFILTER):
                try:
                    hs.Database().compile(expressions=[pattern], ids=[0], elements=1, flags=[flag])
                except hs.error:
                    continue
                plan[idx] = [(pattern, flag)]
                break
            else:
                del plan[idx]
                literal_rules.add(idx)
        return self._build(plan, rules, literal_rules)

    def _build(
        self,
        plan: dict[int, list[tuple[bytes, int]]],
        rules: tuple[Rule, ...],
        literal_rules: set[int],
    ) -> tuple[Any, list[int]]:
        hs = self._hs
        expressions: list[bytes] = []
        flags: list[int] = []
        ids: list[int] = []
        for idx in range(len(rules)):
            chosen = plan.get(idx)
            if chosen is None and idx in literal_rules:
                chosen = [(_escape_literal(kw), hs.HS_FLAG_CASELESS) for kw in rules[idx].keywords]
            for expr, flag in chosen or ():
                expressions.append(expr)
                flags.append(flag)
                ids.append(idx)
        for kind, pattern in DECODE_TRIGGER_PATTERNS:
            expressions.append(pattern)
            flags.append(hs.HS_FLAG_SINGLEMATCH if kind == DECODE_FILE else 0)
            ids.append(kind)
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        if expressions:
            # Hyperscan ids are positions in ``expressions``; ``ids`` maps them to rules.
            db.compile(
                expressions=expressions,
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=flags,
            )
        return db, ids

    def _load(self, path: Path) -> tuple[Any, list[int]] | None:
        try:
            blob = path.read_bytes()
            (hlen,) = struct.unpack(">I", blob[:4])
            ids = json.loads(blob[4 : 4 + hlen])
            db = self._hs.loadb(blob[4 + hlen :], self._hs.HS_MODE_BLOCK)
            return db, list(ids)
        except (OSError, ValueError, struct.error, self._hs.error):
            return None

    def _store(self, path: Path) -> None:
        try:
            header = json.dumps(self._ids).encode()
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
        return out

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("HyperscanPrefilter is per-process; build one in each worker")


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
