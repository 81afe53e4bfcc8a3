"""The on-disk caches (validated rule packs, compiled Hyperscan databases): their keys, and
keeping the folder from growing without bound.

``import hashlib`` loads OpenSSL's binding (6-11 ms here), a large share of what a pre-commit
run can spend. Cache keys only need a collision-resistant digest, and CPython's own BLAKE2
module loads in well under a millisecond. Fingerprints in reports stay SHA-256 (``hashlib``,
imported where a finding is made).

Every rule change or upgrade leaves the previous files behind (a database is 1.5-3 MB). A file
in use has its modification time renewed at most once a day when it is loaded; whenever a new
file is written, files of ours not used for :data:`STALE_AFTER` seconds are removed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # another interpreter: hashlib has it too
    from hashlib import blake2b as _blake2b

STALE_AFTER = 30 * 86400
_RENEW_AFTER = 86400
# What this package writes into a cache folder (and the temporary files it renames from).
_OURS = ("hs-*.db", "rules-*.marshal", "rules-*.json", ".hs-*", ".rules-*")


def cache_dir() -> Path | None:
    """``$NHISCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/nhiscan``, else ``~/.cache/nhiscan``;
    None when there is no home folder to put it in (then nothing is cached)."""
    explicit = os.environ.get("NHISCAN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:
        return None
    return Path(base) / "nhiscan"


def cache_key(*parts: str | bytes, size: int = 16) -> str:
    """Hex digest (``2 * size`` characters) of ``parts``, each length-prefixed."""
    h = _blake2b(digest_size=size)
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def mark_used(path: Path) -> None:
    """Renew ``path``'s modification time if it is over a day old (one ``stat`` otherwise)."""
    try:
        if time.time() - path.stat().st_mtime > _RENEW_AFTER:
            os.utime(path)
    except OSError:
        pass  # a read-only cache still works; it is only pruned sooner


def prune_stale(folder: Path, *, keep: Path | None = None) -> int:
    """Remove our cache files in ``folder`` unused for :data:`STALE_AFTER`; returns how many."""
    cutoff = time.time() - STALE_AFTER
    removed = 0
    for pattern in _OURS:
        for path in folder.glob(pattern):
            try:
                if path != keep and path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
    return removed
