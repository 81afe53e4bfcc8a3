"""Bytes in, bytes out: BOM decoding, binary sniffing and line/column arithmetic."""

from __future__ import annotations

import codecs
import math
from collections import Counter

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

BOM_FIRST_BYTES = frozenset(bom[0] for bom, _ in _BOMS)
"""Bytes a byte-order mark starts with: data starting otherwise is scanned as it is (if not binary)."""
SNIFF_BYTES = 8192


def normalize(data: bytes) -> bytes | None:
    """Bytes ready to scan, or ``None`` for a binary file.

    UTF-16/UTF-32 text with a BOM is re-encoded as UTF-8 (line structure unchanged); a UTF-8
    BOM is dropped. Anything else is scanned as raw bytes; a NUL byte in the first 8 KB
    marks it binary.
    """
    if not data or data[0] not in BOM_FIRST_BYTES:  # (most files: no BOM to look for)
        return None if is_binary(data) else data
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8":
                return data[len(bom) :]
            try:
                return data[len(bom) :].decode(encoding).encode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                return None
    return None if is_binary(data) else data


def has_bom(data: bytes) -> bool:
    return any(data.startswith(bom) for bom, _ in _BOMS)


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KB (after any BOM has been handled)."""
    return data.find(b"\0", 0, SNIFF_BYTES) >= 0


def shannon_entropy(value: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not value:
        return 0.0
    n = len(value)
    return -sum((c / n) * math.log2(c / n) for c in Counter(value).values())


class LineIndex:
    """Maps byte offsets to 1-based (line, column); ``\r\n``, ``\n`` and ``\r`` end lines.

    Computed on demand by counting line breaks (C speed) from the previous query, since a blob
    has few findings; nothing is built for a blob without one.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._has_cr = b"\r" in data
        self._last_offset = 0
        self._last_line = 1

    def _breaks(self, lo: int, hi: int) -> int:
        data = self._data
        n = data.count(b"\n", lo, hi)
        if self._has_cr:
            n += data.count(b"\r", lo, hi) - data.count(b"\r\n", lo, hi)
            # A CRLF split by ``hi`` counts its CR as a break: undo that.
            if hi > lo and data[hi - 1 : hi] == b"\r" and data[hi : hi + 1] == b"\n":
                n -= 1
        return n

    def line_of(self, offset: int) -> int:
        if offset >= self._last_offset:
            line = self._last_line + self._breaks(self._last_offset, offset)
        else:
            line = 1 + self._breaks(0, offset)
        self._last_offset, self._last_line = offset, line
        return line

    def line_start(self, offset: int) -> int:
        data = self._data
        start = data.rfind(b"\n", 0, offset) + 1
        if self._has_cr:
            # A CR ends a line unless an LF follows it (then the LF does).
            cr = data.rfind(b"\r", 0, offset)
            while cr + 1 > start:
                if data[cr + 1 : cr + 2] != b"\n":
                    start = cr + 1
                    break
                cr = data.rfind(b"\r", 0, cr)
        return start

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and 1-based column (in Unicode code points) of ``offset``."""
        line = self.line_of(offset)
        start = self.line_start(offset)
        column = len(self._data[start:offset].decode("utf-8", "replace")) + 1
        return line, column

    def line_bounds(self, offset: int) -> tuple[int, int]:
        """Byte range of the line holding ``offset`` (without its terminator)."""
        data = self._data
        start = self.line_start(offset)
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end
        if self._has_cr:
            cr = data.find(b"\r", offset, end)
            if cr >= 0:
                end = cr
        return start, end
