"""Module-level patterns compiled on first use: a pre-commit run that finds nothing never pays
for compiling them (the ``regex`` module compiles slowly)."""

from __future__ import annotations

from typing import Any, AnyStr, Generic


class LazyPattern(Generic[AnyStr]):
    """Stands in for ``regex.compile(pattern, flags)``; compiles on the first call."""

    __slots__ = ("_pattern", "_flags", "_compiled")
    _pattern: AnyStr

    def __init__(self, pattern: AnyStr, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: Any = None

    def _get(self) -> Any:
        if self._compiled is None:
            import regex

            self._compiled = regex.compile(self._pattern, self._flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def lazy(pattern: AnyStr, flags: int = 0) -> Any:
    """A pattern compiled when first used (typed as Any: it answers like a compiled one)."""
    return LazyPattern(pattern, flags)
