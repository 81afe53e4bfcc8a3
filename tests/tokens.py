"""Fake credentials generated at test time: random values in the issuers' exact formats."""

from __future__ import annotations

import secrets
import string
import zlib

from nhiscan.engine.validators import base62_encode

BASE62 = string.digits + string.ascii_letters


def rand(n: int, alphabet: str = BASE62) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def github_classic_pat() -> str:
    """``ghp_`` + 30 random base62 + base62 CRC32 of those 30: a valid-looking fake."""
    body = rand(30)
    return "ghp_" + body + base62_encode(zlib.crc32(body.encode()), 6).decode()


def generic_password(n: int = 18) -> str:
    """A password mixing classes, with no dictionary words (for the generic rule)."""
    while True:
        value = rand(n - 2) + secrets.choice("!#%^*") + secrets.choice(string.digits)
        low = value.lower()
        if not any(w in low for w in ("pass", "secret", "token", "test", "fake", "mock", "admin", "xxxxx")):
            return value
