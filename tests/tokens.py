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


def generic_password(n: int = 16) -> str:
    """A password mixing classes that the generic rule reports: checked against the engine's
    own placeholder and dummy-value filters, so a test never draws a value the scanner rejects."""
    from nhiscan.engine.placeholders import is_code_or_dummy, is_placeholder
    from nhiscan.engine.text import shannon_entropy

    while True:
        value = rand(n, BASE62 + "!#%*+")
        b = value.encode()
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
            and any(not c.isalnum() for c in value)
            and shannon_entropy(b) >= 3.6
            and not is_placeholder(b)
            and not is_code_or_dummy(b)
            and not any(w in value.lower() for w in ("pass", "key", "test", "fake", "xxx", "secret", "token"))
        ):
            return value
