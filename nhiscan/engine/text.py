"""Bytes in, bytes out: BOM decoding, binary sniffing and line/column arithmetic."""

from __future__ import annotations

import bisect
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

SNIFF_BYTES = 8192


def normalize(data: bytes) -> bytes | None:
    """Bytes ready to scan, or ``None`` for a binary file.

    UTF-16/UTF-32 text with a BOM is re-encoded as UTF-8 (line structure unchanged); a UTF-8
    BOM is dropped. Anything else is scanned as raw bytes; a NUL byte in the first 8 KB
    marks it binary.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8":
                return data[len(bom) :]
            try:
                return data[len(bom) :].decode(encoding).encode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                return None
    if b"\0" in data[:SNIFF_BYTES]:
        return None
    return data


def shannon_entropy(value: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not value:
        return 0.0
    n = len(value)
    return -sum((c / n) * math.log2(c / n) for c in Counter(value).values())


class LineIndex:
    """Maps byte offsets to 1-based (line, column); ``\\r\\n``, ``\\n`` and ``\\r`` end lines.

    Built lazily, only for blobs that have a finding.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        starts = [0]
        find = data.find
        pos = 0
        # One pass over the newlines; CR-only files are rare, handle them in a second pass.
        while True:
            i = find(b"\n", pos)
            if i < 0:
                break
            starts.append(i + 1)
            pos = i + 1
        if b"\r" in data:
            cr_starts = [
                i + 1
                for i in _find_all(data, b"\r")
                if i + 1 >= len(data) or data[i + 1] != 0x0A
            ]
            if cr_starts:
                starts = sorted(set(starts).union(cr_starts))
        self._starts = starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and 1-based column (in Unicode code points) of ``offset``."""
        line = self.line_of(offset)
        start = self._starts[line - 1]
        column = len(self._data[start:offset].decode("utf-8", "replace")) + 1
        return line, column

    def line_bounds(self, offset: int) -> tuple[int, int]:
        """Byte range of the line holding ``offset`` (without its terminator)."""
        line = self.line_of(offset)
        start = self._starts[line - 1]
        end = self._starts[line] if line < len(self._starts) else len(self._data)
        while end > start and self._data[end - 1] in (0x0A, 0x0D):
            end -= 1
        return start, end


def _find_all(data: bytes, needle: bytes) -> list[int]:
    out = []
    pos = data.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = data.find(needle, pos + 1)
    return out
