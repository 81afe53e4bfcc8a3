"""tomllib on Python 3.11+, tomli before, imported on first use (a run with no config file
and cached rule packs never parses TOML)."""

from __future__ import annotations

import sys
from typing import Any


class TOMLDecodeError(ValueError):
    """The document is not valid TOML (the parser's own message)."""


def loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib as toml
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as toml
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise TOMLDecodeError(str(exc)) from None
    return doc


__all__ = ["TOMLDecodeError", "loads"]
