"""Blobs read straight from git's object store: pack files and loose objects.

A history sweep reads every blob once. ``git cat-file --batch`` does that in C, but then
writes every byte into a pipe for Python to read back, on its own core; reading the packs
in the scanning process instead costs less CPU than the pipe alone (measured in
benchmarks/README.md) and frees the second core for a second scanning process. zlib does the
inflating (Intel's ISA-L through the ``isal`` package where it is installed: the same bytes,
two to three times as fast); deltas are applied by the small C module ``nhiscan._packdelta``, which also tells
which bytes of each blob were copied from its delta base (the rest is what that version
added).

This reader is an accelerator, never the authority: anything it does not handle or cannot
read (an object it cannot find, a pack index it does not know, damaged data, an object over
the size limit) makes :meth:`ObjectStore.blob` return ``None``, and the caller asks git for
that blob as before. The module is optional too: without a C compiler at install time
:func:`open_store` returns ``None`` and every blob comes from git.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_IDX_V2 = b"\xfftOc\x00\x00\x00\x02"
_BLOB, _OFS_DELTA, _REF_DELTA = 3, 6, 7
_KNOWN_TYPES = frozenset({1, 2, 3, 4, _OFS_DELTA, _REF_DELTA})

CACHE_BYTES = 96 * 1024 * 1024
"""Objects kept, most recently used first, for the deltas that follow them (git's
``core.deltaBaseCacheLimit`` is 96 MB too)."""
MAX_OBJECT = 256 * 1024 * 1024
"""Objects (delta bases included) larger than this are left to git."""
_MAX_ALTERNATES_DEPTH = 5

_Key = tuple[int, int]
"""(pack number, offset) of an object in a pack."""


class _Damaged(Exception):
    """The object store holds something this reader does not understand: ask git."""


def _delta_module() -> Any | None:
    try:
        from nhiscan import _packdelta  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _packdelta


@dataclass(frozen=True)
class Blob:
    """A blob's bytes, and (for a delta) which of them it copied from its base."""

    data: bytes
    key: _Key | None = None
    """Where the blob sits in a pack (None for a loose object)."""
    base: _Key | None = None
    """The delta base's place, when the blob is a delta in a pack."""
    copies: bytes | None = None
    """Native int64 triples (target start, target end, base start) of the bytes copied from
    ``base``; every other byte was inserted by the delta."""


class _Pack:
    """One ``.pack`` with its version-2 ``.idx``, read with ``pread`` (no memory map: a
    mapped pack would count towards the process's resident memory as it is read)."""

    def __init__(self, pack: Path, hash_len: int, zmod: Any) -> None:
        self._zmod = zmod
        idx = pack.with_suffix(".idx").read_bytes()
        if not idx.startswith(_IDX_V2) or len(idx) < 8 + 1024:
            raise _Damaged(f"{pack}: not a version-2 pack index")
        self.fanout = struct.unpack_from(">256I", idx, 8)
        n = self.fanout[255]
        p = 8 + 1024
        names_end = p + n * hash_len
        off_start = names_end + 4 * n  # after the CRC table
        off_end = off_start + 4 * n
        if len(idx) < off_end + 2 * hash_len:
            raise _Damaged(f"{pack}: truncated pack index")
        self.count = n
        self.hash_len = hash_len
        self.names = idx[p:names_end]
        self._off32 = idx[off_start:off_end]
        self._off64 = idx[off_end : len(idx) - 2 * hash_len]
        self._fd = os.open(pack, os.O_RDONLY)
        try:
            self.size = os.fstat(self._fd).st_size
            head = os.pread(self._fd, 12, 0)
            if len(head) != 12 or head[:4] != b"PACK" or head[4:8] not in (b"\0\0\0\2", b"\0\0\0\3"):
                raise _Damaged(f"{pack}: not a pack file")
            if struct.unpack(">I", head[8:])[0] != n:
                raise _Damaged(f"{pack}: pack and index disagree")
        except BaseException:
            os.close(self._fd)
            raise
        self._ends: array[int] | None = None

    def close(self) -> None:
        os.close(self._fd)

    def find(self, delta: Any, oid: bytes) -> int | None:
        """The offset of ``oid`` in this pack, or None."""
        first = oid[0]
        lo = self.fanout[first - 1] if first else 0
        i = delta.find(self.names, self.hash_len, lo, self.fanout[first], oid)
        if i < 0:
            return None
        return self._offset(i)

    def _offset(self, i: int) -> int:
        (off,) = struct.unpack_from(">I", self._off32, 4 * i)
        if off & 0x80000000:
            (off,) = struct.unpack_from(">Q", self._off64, 8 * (off & 0x7FFFFFFF))
        return int(off)

    def _end(self, offset: int) -> int:
        """Where the object at ``offset`` ends: the next object's offset, or the trailer."""
        ends = self._ends
        if ends is None:
            table = array("I")
            table.frombytes(self._off32)
            if struct.pack("=I", 1) != struct.pack(">I", 1):
                table.byteswap()
            offsets = [o for o in table if not o & 0x80000000]
            if len(offsets) != len(table):
                offsets += [self._offset(i) for i, o in enumerate(table) if o & 0x80000000]
            offsets.sort()
            offsets.append(self.size - self.hash_len)
            ends = self._ends = array("q", offsets)
        i = bisect_right(ends, offset)
        if i >= len(ends) or ends[i] <= offset:
            raise _Damaged("object offset outside the pack")
        return int(ends[i])

    def read(self, offset: int) -> tuple[int, int, int | bytes | None, bytes]:
        """(type, size, delta base: an offset or an object name, inflated data)."""
        end = self._end(offset)
        raw = os.pread(self._fd, end - offset, offset)
        if len(raw) != end - offset or not raw:
            raise _Damaged("short read")
        typ, size, base, p = self._header(raw, offset)
        if size > MAX_OBJECT:
            raise _Damaged("object over the size limit")
        return typ, size, base, _inflate(self._zmod, memoryview(raw)[p:], size)

    def _header(self, raw: bytes, offset: int) -> tuple[int, int, int | bytes | None, int]:
        """(type, size, delta base, where the compressed data starts) of an object's header."""
        if not raw:
            raise _Damaged("short read")
        c = raw[0]
        typ = (c >> 4) & 7
        size = c & 15
        shift = 4
        p = 1
        while c & 0x80:
            c = raw[p]
            p += 1
            size |= (c & 0x7F) << shift
            shift += 7
        if typ not in _KNOWN_TYPES:
            raise _Damaged("unknown object type")
        base: int | bytes | None = None
        if typ == _OFS_DELTA:
            c = raw[p]
            p += 1
            rel = c & 0x7F
            while c & 0x80:
                c = raw[p]
                p += 1
                rel = ((rel + 1) << 7) | (c & 0x7F)
            if rel <= 0 or rel > offset:
                raise _Damaged("delta base outside the pack")
            base = offset - rel
        elif typ == _REF_DELTA:
            base = raw[p : p + self.hash_len]
            if len(base) != self.hash_len:
                raise _Damaged("short read")
            p += self.hash_len
        return typ, size, base, p


def _zlib_module() -> Any:
    """``isal.isal_zlib`` (same interface, same output, inflates 2-3x faster) or ``zlib``."""
    if os.environ.get("NHISCAN_ISAL", "1") != "0":
        try:
            from isal import isal_zlib
        except ImportError:
            pass
        else:
            return isal_zlib
    return zlib


def _inflate(zmod: Any, data: memoryview | bytes, size: int) -> bytes:
    d = zmod.decompressobj()
    try:
        out: bytes = d.decompress(data, max(size, 1))  # (0 would mean no limit)
        if not d.eof:
            # Exactly ``size`` bytes came out; the stream must end here.
            if d.decompress(d.unconsumed_tail, 1) or not d.eof:
                raise _Damaged("object longer than its header says")
    except (zlib.error, zmod.error) as exc:
        raise _Damaged(str(exc)) from exc
    if len(out) != size:
        raise _Damaged("object shorter than its header says")
    return out


class ObjectStore:
    """The packs and loose objects of one repository (and its alternates)."""

    def __init__(self, objects_dir: Path, hash_len: int, delta: Any, cache_bytes: int = CACHE_BYTES) -> None:
        self._delta = delta
        self._hash_len = hash_len
        self._zmod = _zlib_module()
        self._dirs = _object_dirs(objects_dir)
        self._packs: list[_Pack] = []
        self.unusable_packs = 0
        """Pack files this reader could not open (their blobs come from git)."""
        for d in self._dirs:
            try:
                idx_files = sorted((d / "pack").glob("*.idx"))
            except OSError:
                continue
            for idx in idx_files:
                pack = idx.with_suffix(".pack")
                if not pack.is_file():
                    continue
                try:
                    self._packs.append(_Pack(pack, hash_len, self._zmod))
                except (OSError, _Damaged, struct.error):
                    self.unusable_packs += 1
        self._cache: OrderedDict[_Key, bytes] = OrderedDict()
        self._cache_size = 0
        self._cache_cap = cache_bytes

    def close(self) -> None:
        for pack in self._packs:
            pack.close()
        self._packs = []
        self._cache.clear()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ---------------------------------------------------------------------------
    def _locate(self, oid: bytes) -> _Key | None:
        for n, pack in enumerate(self._packs):
            off = pack.find(self._delta, oid)
            if off is not None:
                return n, off
        return None

    def blob(self, oid: str) -> Blob | None:
        """The blob's bytes, or None if git should be asked instead."""
        try:
            name = bytes.fromhex(oid)
            if len(name) != self._hash_len:
                return None
            key = self._locate(name)
            if key is None:
                data = self._loose(oid)
                return Blob(data) if data is not None else None
            return self._object(key, want_blob=True)
        except (_Damaged, OSError, ValueError, IndexError, struct.error, MemoryError):
            return None

    def _loose(self, oid: str) -> bytes | None:
        for d in self._dirs:
            try:
                raw = (d / oid[:2] / oid[2:]).read_bytes()
            except OSError:
                continue
            try:
                body = zlib.decompress(raw)
            except zlib.error:
                return None
            nul = body.find(b"\0", 0, 64)
            if nul < 0 or not body.startswith(b"blob "):
                return None
            if int(body[5:nul]) != len(body) - nul - 1:
                return None
            return body[nul + 1 :]
        return None

    # -- packed objects --------------------------------------------------------------------
    def _object(self, key: _Key, *, want_blob: bool) -> Blob:
        """The object at ``key``: its delta chain is walked down to a cached or whole object
        (no recursion: chains may be thousands deep), then applied upwards."""
        chain: list[tuple[_Key, bytes, _Key]] = []  # (object, its delta data, its base)
        at = key
        while True:
            cached = self._cache.get(at)
            if cached is not None:
                self._cache.move_to_end(at)
                data = cached
                break
            pack_no, offset = at
            typ, _size, base, payload = self._packs[pack_no].read(offset)
            if typ == _OFS_DELTA:
                assert isinstance(base, int)
                chain.append((at, payload, (pack_no, base)))
            elif typ == _REF_DELTA:
                assert isinstance(base, bytes)
                where = self._locate(base)
                if where is None:
                    raise _Damaged("delta base not in any pack")
                chain.append((at, payload, where))
            else:
                if want_blob and typ != _BLOB:  # (a delta has its base's type)
                    raise _Damaged("not a blob")
                data = payload
                if chain:  # a delta base: keep it for the deltas that follow
                    self._remember(at, data)
                break
            if len(chain) > 10_000:
                raise _Damaged("delta chain too deep")
            at = chain[-1][2]
        copies = None
        base_key = None
        for obj, payload, base_at in reversed(chain):
            data, copies = self._delta.apply(data, payload)
            base_key = base_at
            if len(data) > MAX_OBJECT:
                raise _Damaged("object over the size limit")
            if obj != key:
                self._remember(obj, data)
        self._remember(key, data)
        return Blob(data, key, base_key, copies)

    def _remember(self, key: _Key, data: bytes) -> None:
        if len(data) > self._cache_cap // 4 or key in self._cache:
            return
        self._cache[key] = data
        self._cache_size += len(data)
        while self._cache_size > self._cache_cap:
            _, old = self._cache.popitem(last=False)
            self._cache_size -= len(old)


def _object_dirs(objects_dir: Path) -> list[Path]:
    """The object directory and its alternates (``objects/info/alternates``), in git's order."""
    out: list[Path] = []
    todo = [(objects_dir, 0)]
    while todo:
        d, depth = todo.pop(0)
        if d in out:
            continue
        out.append(d)
        if depth >= _MAX_ALTERNATES_DEPTH:
            continue
        try:
            lines = (d / "info" / "alternates").read_text("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#") and not line.startswith('"'):
                todo.append(((d / line).resolve(), depth + 1))
    return out


def objects_dir(repo: Path) -> Path | None:
    """The repository's object directory (``--git-path objects``: worktrees and
    ``GIT_OBJECT_DIRECTORY`` included), or None if git cannot say."""
    from nhiscan.sources.gitcmd import run_git

    proc = run_git(repo, ["rev-parse", "--git-path", "objects"], check=False)
    out = os.fsdecode(proc.stdout.strip())
    if proc.returncode != 0 or not out:
        return None
    path = Path(out)
    return path if path.is_absolute() else repo / path


def open_store(repo: Path, hash_len: int) -> ObjectStore | None:
    """A reader for the repository's object store, or None where the C module is missing or
    reading packs is turned off (``NHISCAN_READ_PACKS=0``): every blob then comes from
    ``git cat-file``."""
    if os.environ.get("NHISCAN_READ_PACKS", "1") == "0":
        return None
    delta = _delta_module()
    if delta is None:
        return None
    objects = objects_dir(repo)
    if objects is None or not objects.is_dir():
        return None
    return ObjectStore(objects, hash_len, delta)
