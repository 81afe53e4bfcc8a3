"""Encoded spans: base64 and percent-encoding, decoded so that the rules can see inside them.

Secrets are often stored encoded: Kubernetes ``Secret`` manifests keep every ``data:`` value in
base64, Docker's ``config.json`` keeps ``auth`` as base64 of ``user:password``, HTTP
``Authorization: Basic`` headers carry the same, config files hold long base64 blobs (a whole
``.dockerconfigjson`` or service-account key), and URLs percent-encode tokens and passwords.

:func:`decoded_segments` finds such spans in a blob and returns, for each, its byte range in
the *original* data and the decoded bytes. The caller scans the decoded bytes with the same
rules and reports what it finds at the encoded span's position (a line and column inside the
decoded text would point nowhere in the file).

Everything is bounded, because the input is untrusted and large:

* only spans that decode to mostly printable text are kept (binary, such as images, fonts and
  the DER inside PEM blocks, is dropped after decoding a short probe);
* ``max_depth`` levels of nesting (base64 of a Docker config whose ``auth`` is base64 again);
* each span at most ``max_span`` encoded bytes, all decoded output together at most
  ``max_bytes``; spans that would exceed it are skipped.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import deque
from urllib.parse import unquote_to_bytes


from nhiscan.engine.lazyre import lazy

DEFAULT_MAX_BYTES = 1 << 20
"""All decoded output of one blob together (1 MiB)."""
DEFAULT_MAX_SPAN = 1 << 16
"""Longest encoded span decoded (64 KiB: a base64 kubeconfig or service-account key fits)."""

_MIN_BASE64 = 12
"""``dXNlcjpwYXNz`` (``user:pass``) is 12 characters; shorter runs carry too little."""
_MIN_DECODED = 6

# Base64 of ASCII text: the first character of every 4-character group holds the top six bits
# of a text byte (0x20-0x7E -> values 8-31 -> I-Z, a-f; tab, LF, CR -> C, D). The pattern asks
# it of the first character, so the regex engine (the stdlib ``re``: ~10x faster than ``regex``
# on these simple runs) skips most words; Python checks the other groups with one translate.
_TEXT_GROUP_LEADS = b"CDIJKLMNOPQRSTUVWXYZabcdef"
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_BASE64_RUN = re.compile(rb"[CDI-Za-f][A-Za-z0-9+/_-]{%d,}={0,2}" % (_MIN_BASE64 - 1))
_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
# Characters that end a URL or form-encoded value (searched backwards with the REVERSE flag).
_URL_STOP = re.compile(rb"[\s\"'<>`\\{}|^]")
_URL_STOP_BACK = lazy(rb"(?r)[\s\"'<>`\\{}|^]")
_PROBE = 16
"""Characters decoded first to reject binary cheaply (16 base64 characters -> 12 bytes)."""


def _printable_text(raw: bytes) -> bool:
    """Mostly readable text: valid UTF-8, no control characters, at least half alphanumeric."""
    if len(raw) < _MIN_DECODED:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    alnum = 0
    for ch in text:
        if ch in "\t\n\r":
            continue
        if not ch.isprintable():
            return False
        if ch.isascii() and ch.isalnum():
            alnum += 1
    return alnum * 2 >= len(text)


def _probe_ok(raw: bytes) -> bool:
    """The first bytes of a decoding: printable ASCII or UTF-8 lead/continuation bytes."""
    return all(c in (0x09, 0x0A, 0x0D) or 0x20 <= c <= 0x7E or c >= 0xC2 for c in raw)


def _b64decode(text: bytes) -> bytes | None:
    """Decode standard or URL-safe base64 (padding optional); None if it is neither."""
    body = text.rstrip(b"=")
    if len(body) % 4 == 1:
        return None
    urlsafe = b"-" in body or b"_" in body
    if urlsafe and (b"+" in body or b"/" in body):
        return None  # mixes both alphabets: an identifier or a path, not base64
    if urlsafe:
        body = body.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(body + b"=" * (-len(body) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def _decode_base64_run(run: bytes) -> bytes | None:
    if run.rstrip(b"=")[0::4].translate(None, _TEXT_GROUP_LEADS):
        return None
    probe = _b64decode(run[:_PROBE]) if len(run) > _PROBE + 4 else None
    if probe is not None and not _probe_ok(probe):
        return None
    raw = _b64decode(run)
    if raw is None or not _printable_text(raw):
        return None
    return raw


def _base64_spans(data: bytes, max_span: int) -> list[tuple[int, int, bytes]]:
    out: list[tuple[int, int, bytes]] = []
    for m in _BASE64_RUN.finditer(data):
        start, end = m.span()
        if start > 0 and data[start - 1] in _BASE64_ALPHABET:
            continue  # the run starts earlier, with a character no text encodes to
        if end - start > max_span:
            continue
        raw = _decode_base64_run(m.group())
        if raw is not None:
            out.append((start, end, raw))
    return out


def _percent_spans(data: bytes, max_span: int) -> list[tuple[int, int, bytes]]:
    """Runs of URL characters holding %XX escapes, found from the escapes outwards (linear)."""
    out: list[tuple[int, int, bytes]] = []
    if b"%" not in data:
        return out
    done = 0
    for m in _ESCAPE.finditer(data):
        if m.start() < done:
            continue  # inside the run already taken
        back = _URL_STOP_BACK.search(data, max(done, m.start() - max_span), m.start())
        start = back.end() if back is not None else max(done, m.start() - max_span)
        fwd = _URL_STOP.search(data, m.end(), min(len(data), start + max_span))
        end = fwd.start() if fwd is not None else min(len(data), start + max_span)
        done = end
        raw = unquote_to_bytes(data[start:end])
        if _printable_text(raw):
            out.append((start, end, raw))
    return out


def decoded_segments(
    data: bytes,
    *,
    max_depth: int = 2,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_span: int = DEFAULT_MAX_SPAN,
) -> list[tuple[int, int, bytes]]:
    """Encoded spans of ``data`` and what they decode to: ``(start, end, decoded)``.

    ``start``/``end`` are byte offsets of the encoded span in ``data``. A span nested inside a
    decoded span (base64 inside base64, base64 inside a percent-encoded URL) is reported with
    the offsets of the outermost span, since its own offsets point into decoded text. Results
    are ordered by ``start``; the decoded bytes of all results together never exceed
    ``max_bytes``.
    """
    results: list[tuple[int, int, bytes]] = []
    if max_depth < 1 or max_bytes <= 0 or not data:
        return results
    budget = max_bytes
    seen: set[tuple[int, int, bytes]] = set()
    # (outer start, outer end, text to search, depth of that text)
    pending: deque[tuple[int, int, bytes, int]] = deque([(0, len(data), data, 0)])
    while pending:
        outer_start, outer_end, text, depth = pending.popleft()
        found = _base64_spans(text, max_span) + _percent_spans(text, max_span)
        found.sort(key=lambda s: (s[0], s[1]))
        for start, end, raw in found:
            if len(raw) > budget:
                continue
            if depth == 0:
                span = (start, end)
            else:
                span = (outer_start, outer_end)
            key = (span[0], span[1], raw)
            if key in seen:
                continue
            seen.add(key)
            budget -= len(raw)
            results.append((span[0], span[1], raw))
            if depth + 1 < max_depth:
                pending.append((span[0], span[1], raw, depth + 1))
    results.sort(key=lambda s: (s[0], s[1]))
    return results
