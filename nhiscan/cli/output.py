"""Writing reports and messages. Reports go to a file atomically (mode 0600) or stdout."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from nhiscan.errors import NhiscanError
from nhiscan.model import ScanReport

_MAX_NAMED = 20


def write_output(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` (a path, or stdout when None or ``-``).

    A file is written to a temporary name and renamed into place, so an interrupted run
    never leaves a partial report that looks complete; it is created with mode 0600 because
    reports can be made to hold secrets (--show-secrets).
    """
    if output is None or output == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return
    target = Path(output)
    if target.exists() and not target.is_file():
        # A device or FIFO (``-o /dev/null``, a pipe): write into it, never replace it.
        try:
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except OSError as exc:
            raise NhiscanError(f"{output}: cannot write report: {exc.strerror or exc}") from None
        return
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise NhiscanError(f"{output}: cannot write report: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise NhiscanError(f"{output}: cannot write report: {exc.strerror or exc}") from None
        raise


def warn(message: str) -> None:
    sys.stderr.write(f"nhiscan: warning: {message}\n")


def print_diagnostics(report: ScanReport, *, quiet: bool, verbose: bool) -> None:
    """Name what was skipped and what could not be read, on stderr."""
    for err in report.errors:
        sys.stderr.write(f"nhiscan: error: {err.path}: {err.message}\n")
    if quiet:
        return
    binaries = [s for s in report.skipped if s.reason == "binary"]
    others = [s for s in report.skipped if s.reason != "binary"]
    shown = others if verbose else others[:_MAX_NAMED]
    for s in shown:
        warn(f"skipped {s.path}: {s.reason}")
    if len(others) > len(shown):
        warn(f"... and {len(others) - len(shown)} more skipped (--verbose names them)")
    if binaries:
        if verbose:
            for s in binaries:
                warn(f"skipped {s.path}: binary")
        else:
            warn(f"skipped {len(binaries)} binary file{'s' if len(binaries) != 1 else ''}")
    limit = None if verbose else _MAX_NAMED
    for w in report.warnings[:limit]:
        warn(w)
    if limit is not None and len(report.warnings) > limit:
        warn(f"... and {len(report.warnings) - limit} more warnings (--verbose shows them)")
