"""Content keys for the on-disk caches, without loading OpenSSL.

``import hashlib`` loads OpenSSL's binding (6-11 ms here), a large share of what a pre-commit
run can spend. Cache keys only need a collision-resistant digest, and CPython's own BLAKE2
module loads in well under a millisecond. Fingerprints in reports stay SHA-256 (``hashlib``,
imported where a finding is made).
"""

from __future__ import annotations

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # another interpreter: hashlib has it too
    from hashlib import blake2b as _blake2b


def cache_key(*parts: str | bytes, size: int = 16) -> str:
    """Hex digest (``2 * size`` characters) of ``parts``, each length-prefixed."""
    h = _blake2b(digest_size=size)
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()
