"""The optional C module ``nhiscan._packdelta`` (see nhiscan/_packdelta.c and hatch_build.py)."""

from __future__ import annotations

from typing import Any

API_VERSION = 5
"""The interface this Python code calls; a module built from an older ``_packdelta.c`` (an
editable install or a checkout whose module was not rebuilt) is not used."""


def delta_module() -> Any | None:
    """The C module, or None where it was not built (or is stale): history sweeps then read
    every blob through ``git cat-file`` and scan it whole."""
    try:
        from nhiscan import _packdelta  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_packdelta, "API_VERSION", None) != API_VERSION:
        return None
    return _packdelta
