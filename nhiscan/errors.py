"""One exception base for everything a user can cause, and the exit codes."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, as the contract defines them."""

    CLEAN = 0
    FINDINGS = 1
    ERROR = 2
    INTERRUPTED = 130


class NhiscanError(Exception):
    """An error the user can fix: printed as one line, exit code 2.

    The message must name the file, rule or item it is about and must never contain a
    secret value.
    """


class ConfigError(NhiscanError):
    """A malformed configuration file."""


class RuleError(NhiscanError):
    """A malformed rule pack or rule."""


class SourceError(NhiscanError):
    """An input that cannot be read at all (missing path, not a repository, ...)."""


class GitError(SourceError):
    """git failed or the repository is unusable (corrupt, shallow, unknown revision)."""
