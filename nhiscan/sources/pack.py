"""Blobs read straight from git's object store: pack files and loose objects.

A history sweep reads every blob once. ``git cat-file --batch`` does that in C, but then
writes every byte into a pipe for Python to read back, on its own core; reading the packs
in the scanning process instead costs less CPU than the pipe alone (measured in
benchmarks/README.md) and frees the second core for a second scanning process. zlib does the
inflating (Intel's ISA-L through the ``isal`` package where it is installed: the same bytes,
two to three times as fast); deltas are applied by the small C module ``nhiscan._packdelta``.
A history sweep asks for most blobs with :meth:`ObjectStore.blob_or_delta`, which leaves a
delta unbuilt (its base built): the module can tell, from the delta alone, which bytes the
blob copied from its base and gather the rest, and a blob without anything to confirm is then
never built.

This reader is an accelerator, never the authority: anything it does not handle or cannot
read (an object it cannot find, a pack index it does not know, damaged data, an object over
the size limit) makes :meth:`ObjectStore.blob` return ``None``, and the caller asks git for
that blob as before. The module is optional too: without a C compiler at install time
:func:`open_store` returns ``None`` and every blob comes from git.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from nhiscan.engine.native import delta_module

_IDX_V2 = b"\xfftOc\x00\x00\x00\x02"
_BLOB, _OFS_DELTA, _REF_DELTA = 3, 6, 7

CACHE_BYTES = 96 * 1024 * 1024
"""Objects kept, most recently used first, for the deltas that follow them (git's
``core.deltaBaseCacheLimit`` is 96 MB too)."""
MAX_OBJECT = 256 * 1024 * 1024
"""Objects (delta bases included) larger than this are left to git."""
_MAX_ALTERNATES_DEPTH = 5

_FIRST_READ = 8192
"""Bytes read at an object's offset: its header and, for most objects, all of its data."""
_MAX_READ = 4 * 1024 * 1024
_ONE_SHOT = 16384
"""Objects up to this size are first inflated in one call from the first read."""

_Key = tuple[int, int]
"""(pack number, offset) of an object in a pack."""


K = TypeVar("K")


class ByteLru(Generic[K]):
    """Values kept most recently used first, up to ``cap`` bytes in all (each counting the
    size it was put with, ``len(value)`` by default, plus ``overhead`` bytes more); a value
    over a quarter of ``cap`` is not kept. Putting a key again replaces its value."""

    def __init__(self, cap: int, overhead: int = 0) -> None:
        self._items: OrderedDict[K, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._cap = cap
        self._overhead = overhead

    def get(self, key: K) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: Any, size: int | None = None) -> None:
        if size is None:
            size = len(value)
        if size > self._cap // 4:
            return
        size += self._overhead
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= old[1]
        self._items[key] = (value, size)
        self._size += size
        while self._size > self._cap:
            self._size -= self._items.popitem(last=False)[1][1]

    def clear(self) -> None:
        self._items.clear()
        self._size = 0


class _Damaged(Exception):
    """The object store holds something this reader does not understand: ask git."""


class Blob(NamedTuple):
    """A blob's bytes (a named tuple: one is made for every blob of a history)."""

    data: bytes
    key: _Key | None = None
    """Where the blob sits in a pack (None for a loose object)."""


class Delta(NamedTuple):
    """A blob in a pack left as its delta against ``base`` (its base's bytes, at ``base_key``):
    what :meth:`ObjectStore.build` builds, and what a scan that needs only part of the blob
    can read without building it (``nhiscan._packdelta.partial``)."""

    key: _Key
    base_key: _Key
    base: bytes
    delta: bytes


class _Recipe(NamedTuple):
    """A delta kept in the cache in place of the object it builds (built when it is needed as
    another delta's base)."""

    base_key: _Key
    delta: bytes


class _Pack:
    """One ``.pack`` with its version-2 ``.idx``. The index is memory-mapped (clean pages of the
    page cache, shared by every worker, few of them touched by lookups); the pack is read with
    ``pread`` (a mapped pack would count towards the resident memory of each process as it is
    read)."""

    def __init__(self, pack: Path, hash_len: int, delta: Any, zmod: Any) -> None:
        self._delta = delta
        self._zmod = zmod
        self.hash_len = hash_len
        with open(pack.with_suffix(".idx"), "rb") as fh:
            self._idx = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._fd = -1
        try:
            idx = memoryview(self._idx)
            self._view = idx
            if idx[:8] != _IDX_V2 or len(idx) < 8 + 1024:
                raise _Damaged(f"{pack}: not a version-2 pack index")
            self.fanout = struct.unpack_from(">256I", idx, 8)
            n = self.fanout[255]
            p = 8 + 1024
            names_end = p + n * hash_len
            off_start = names_end + 4 * n  # after the CRC table
            off_end = off_start + 4 * n
            if len(idx) < off_end + 2 * hash_len:
                raise _Damaged(f"{pack}: truncated pack index")
            self.names = idx[p:names_end]
            self._off32 = idx[off_start:off_end]
            self._off64 = idx[off_end : len(idx) - 2 * hash_len]
            self._fd = os.open(pack, os.O_RDONLY)
            self.size = os.fstat(self._fd).st_size
            head = os.pread(self._fd, 12, 0)
            if len(head) != 12 or head[:4] != b"PACK" or head[4:8] not in (b"\0\0\0\2", b"\0\0\0\3"):
                raise _Damaged(f"{pack}: not a pack file")
            # The index names the pack it was made for by the pack's checksum, as git checks.
            trailer = os.pread(self._fd, hash_len, self.size - hash_len) if self.size >= hash_len else b""
            if struct.unpack(">I", head[8:])[0] != n or trailer != idx[len(idx) - 2 * hash_len : len(idx) - hash_len]:
                raise _Damaged(f"{pack}: the index does not belong to this pack")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for attr in ("names", "_off32", "_off64", "_view"):
            view = self.__dict__.pop(attr, None)
            if view is not None:
                view.release()
        self._idx.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def find(self, oid: bytes) -> int | None:
        """The offset of ``oid`` in this pack, or None."""
        first = oid[0]
        lo = self.fanout[first - 1] if first else 0
        off: int = self._delta.find(self.names, self._off32, self._off64, self.hash_len, lo, self.fanout[first], oid)
        if off < 0:
            return None
        if off < 12 or off >= self.size - self.hash_len:
            raise _Damaged("object offset outside the pack")
        return off

    def read(self, offset: int) -> tuple[int, int | bytes | None, bytes]:
        """(type, delta base: an offset or an object name, inflated data)."""
        raw = os.pread(self._fd, _FIRST_READ, offset)
        typ, size, base, p = self._delta.header(raw, offset, self.hash_len)
        if size > MAX_OBJECT:
            raise _Damaged("object over the size limit")
        if size <= _ONE_SHOT:
            # Most objects (deltas, small files): the whole stream is in ``raw``, and one call
            # inflates it (what follows the stream is ignored, as below). A stream cut off by
            # the end of ``raw`` fails, and is read on below.
            try:
                data = self._zmod.decompress(memoryview(raw)[p:], 15, size or 1)
            except (zlib.error, self._zmod.error):
                pass
            else:
                if len(data) != size:
                    raise _Damaged("object size differs from its header")
                return typ, base, data
        return typ, base, self._inflate(memoryview(raw)[p:], offset + len(raw), size)

    def _inflate(self, data: memoryview, pos: int, size: int) -> bytes:
        """``size`` bytes from the zlib stream starting with ``data``, read on from ``pos`` as
        needed; the stream must end exactly there."""
        zmod = self._zmod
        d = zmod.decompressobj()
        parts: list[bytes] = []
        got = 0
        try:
            while True:
                piece = d.decompress(data, max(size - got, 1))  # (0 would mean no limit)
                parts.append(piece)
                got += len(piece)
                if got > size:
                    raise _Damaged("object longer than its header says")
                if d.eof:
                    break
                if d.unconsumed_tail:
                    data = memoryview(d.unconsumed_tail)
                    continue
                # Compressed input never much exceeds the output still to come.
                want = min(max(size - got + 1024, 65536), _MAX_READ)
                more = os.pread(self._fd, want, pos)
                if not more:
                    raise _Damaged("truncated object")
                pos += len(more)
                data = memoryview(more)
        except (zlib.error, zmod.error) as exc:
            raise _Damaged(str(exc)) from exc
        if got != size:
            raise _Damaged("object shorter than its header says")
        return parts[0] if len(parts) == 1 else b"".join(parts)


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
                    self._packs.append(_Pack(pack, hash_len, delta, self._zmod))
                except Exception:  # noqa: BLE001 - (an empty index cannot even be mapped)
                    self.unusable_packs += 1
        self._cache: ByteLru[_Key] = ByteLru(cache_bytes)

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
            off = pack.find(oid)
            if off is not None:
                return n, off
        return None

    def blob(self, oid: str) -> Blob | None:
        """The blob's bytes, or None if git should be asked instead.

        Never raises for what it reads: this reader is not the authority on a damaged or
        strange object store, git is (it reports such blobs unreadable, or reads them).
        """
        found = self.blob_or_delta(oid, build=True)
        assert not isinstance(found, Delta)
        return found

    def blob_or_delta(self, oid: str, *, build: bool = False) -> Blob | Delta | None:
        """Like :meth:`blob`, but a blob stored as a delta is left unbuilt (its base is built):
        most versions of a file are scanned only where they differ from the version before,
        and then never needed whole."""
        try:
            name = bytes.fromhex(oid)
            if len(name) != self._hash_len:
                return None
            key = self._locate(name)
            if key is None:
                data = self._loose(oid)
                return Blob(data) if data is not None else None
            return self._blob_at(key, build)
        except Exception:  # noqa: BLE001 - anything at all: ask git
            return None

    def build(self, delta: Delta) -> Blob | None:
        """The blob a :class:`Delta` describes (None if git should be asked instead)."""
        try:
            data, _ = self._delta.apply(delta.base, delta.delta, MAX_OBJECT)
        except Exception:  # noqa: BLE001 - a malformed delta: ask git
            return None
        self._cache.put(delta.key, data)
        return Blob(data, delta.key)

    def _loose(self, oid: str) -> bytes | None:
        """A loose object's bytes: inflated no further than its header's size allows."""
        for d in self._dirs:
            try:
                raw = (d / oid[:2] / oid[2:]).read_bytes()
            except OSError:
                continue
            z = zlib.decompressobj()
            head = z.decompress(raw, 64)
            nul = head.find(b"\0")
            if nul < 0 or not head.startswith(b"blob "):
                return None
            size = int(head[5:nul])
            if size > MAX_OBJECT:
                return None
            body = head[nul + 1 :]
            if not z.eof:
                body += z.decompress(z.unconsumed_tail, size - len(body) + 1)
            if len(body) != size or not z.eof:
                return None
            return body
        return None

    # -- packed objects --------------------------------------------------------------------
    def _blob_at(self, key: _Key, build: bool) -> Blob | Delta:
        """The blob at ``key`` (unless ``build``, a delta is returned as its :class:`Delta`).
        Its delta chain is walked down to a built object, cached or whole (no recursion:
        chains may be thousands deep), then applied upwards."""
        chain: list[tuple[_Key, bytes, _Key]] = []  # (object, its delta data, its base)
        at = key
        while True:
            cached = self._cache.get(at)
            if isinstance(cached, bytes):
                data = cached
                break
            if cached is not None:  # a _Recipe
                chain.append((at, cached.delta, cached.base_key))
            else:
                pack_no, offset = at
                typ, base, payload = self._packs[pack_no].read(offset)
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
                    if typ != _BLOB:  # (a delta has its base's type)
                        raise _Damaged("not a blob")
                    data = payload
                    self._cache.put(at, data)  # (a whole blob, or a delta base)
                    break
            if len(chain) > 10_000:
                raise _Damaged("delta chain too deep")
            at = chain[-1][2]
        top = None if build or not chain else chain.pop(0)
        for obj, payload, _ in reversed(chain):
            data, _copies = self._delta.apply(data, payload, MAX_OBJECT)
            self._cache.put(obj, data)
        if top is None:
            return Blob(data, key)
        self._cache.put(key, _Recipe(top[2], top[1]), len(top[1]))
        return Delta(key, top[2], data, top[1])


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
                try:
                    todo.append(((d / line).resolve(), depth + 1))
                except (OSError, RuntimeError):  # a symlink loop: git skips it too
                    continue
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


def open_store(repo: Path, hash_len: int, objects: Path | None = None) -> ObjectStore | None:
    """A reader for the repository's object store (at ``objects``, else where git says), or
    None where the C module is missing or reading packs is turned off
    (``NHISCAN_READ_PACKS=0``): every blob then comes from ``git cat-file``."""
    if os.environ.get("NHISCAN_READ_PACKS", "1") == "0":
        return None
    delta = delta_module()
    if delta is None:
        return None
    if objects is None:
        objects = objects_dir(repo)
    if objects is None or not objects.is_dir():
        return None
    try:
        return ObjectStore(objects, hash_len, delta)
    except Exception:  # noqa: BLE001 - an object store this reader cannot open: git reads it
        return None
