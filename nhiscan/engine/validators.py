"""Checksum and structure validators that rules name in their ``checksum`` key.

Each validator receives the rule's secret (bytes) and says whether it is well-formed per
the issuer's published format. Validators never call the network.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Callable

Validator = Callable[[bytes], bool]

_BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62_encode(value: int, width: int) -> bytes:
    """Encode ``value`` in base62, left-padded with ``0`` to ``width`` characters."""
    out = bytearray()
    while value:
        value, rem = divmod(value, 62)
        out.append(_BASE62[rem])
    return bytes(reversed(out)).rjust(width, b"0")


def crc32_base62_tail(token: bytes, *, prefix_len: int = -1) -> bool:
    """Tokens whose last six characters are the base62 CRC32 of the random part.

    GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``) and npm (``npm_``) tokens end
    with the CRC32 of the characters between the prefix and the checksum.
    """
    if len(token) < 8:
        return False
    sep = token.find(b"_") if prefix_len < 0 else prefix_len - 1
    body, tail = token[sep + 1 : -6], token[-6:]
    return base62_encode(zlib.crc32(body), 6) == tail


def _b64url_json(part: bytes) -> object:
    padded = part + b"=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def jwt_structure(token: bytes) -> bool:
    """A JWT whose header decodes to a JSON object carrying ``alg``."""
    parts = token.split(b".")
    if len(parts) < 3:
        return False
    try:
        header = _b64url_json(parts[0])
        if len(parts) == 3:
            _b64url_json(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


def pypi_macaroon(token: bytes) -> bool:
    """``pypi-`` followed by a base64url macaroon whose location is a PyPI host."""
    if not token.startswith(b"pypi-"):
        return False
    body = token[5:]
    try:
        raw = base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        return False
    return b"pypi.org" in raw[:64] or b"test.pypi.org" in raw[:64]


def luhn(token: bytes) -> bool:
    """Luhn check over the digits of the token (payment-card style identifiers)."""
    digits = [c - 48 for c in token if 48 <= c <= 57]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def base64_decodes(token: bytes) -> bool:
    """The value is valid standard or URL-safe base64 (padding optional)."""
    cleaned = token.strip()
    try:
        base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4), validate=True)
        return True
    except (ValueError, binascii.Error):
        try:
            base64.urlsafe_b64decode(cleaned + b"=" * (-len(cleaned) % 4))
            return True
        except (ValueError, binascii.Error):
            return False


_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32(token: bytes) -> bool:
    """BIP-173 bech32 checksum (age secret keys ``AGE-SECRET-KEY-1...``, Nostr ``nsec1...``)."""
    text = token.decode("ascii", "replace").lower()
    sep = text.rfind("1")
    if sep < 1 or len(text) - sep < 7:
        return False
    hrp, data = text[:sep], text[sep + 1 :]
    try:
        values = [_BECH32_CHARSET.index(c) for c in data]
    except ValueError:
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in expanded + values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= generators[i] if (top >> i) & 1 else 0
    return chk == 1


def basic_auth_base64(token: bytes) -> bool:
    """Base64 of printable ``user:password`` (Docker ``auth``, npm ``_auth``)."""
    cleaned = token.strip()
    try:
        raw = base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4), validate=True)
        text = raw.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = text.partition(":")
    return bool(sep and user and password and text.isprintable())


VALIDATORS: dict[str, Validator] = {
    "bech32": bech32,
    "basic-auth-base64": basic_auth_base64,
    "github-crc32": crc32_base62_tail,
    "npm-crc32": crc32_base62_tail,
    "jwt": jwt_structure,
    "pypi-macaroon": pypi_macaroon,
    "luhn": luhn,
    "base64": base64_decodes,
}
