"""Which repositories a sweep covers: local paths and clone URLs, and the bare-clone cache.

A clone URL is cloned bare into ``<cache>/repos/`` (``$NHISCAN_CACHE_DIR``, else
``$XDG_CACHE_HOME/nhiscan``) the first time, and fetched on later sweeps. Nothing touches the
network for a local path. Credentials in a URL (``https://user:token@host/...``) are used for
the clone and never appear in a report, a message or a cache path.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

from nhiscan.errors import GitError, NhiscanError
from nhiscan.sources.gitcmd import run_git

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:(?!//)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# Refs a bare clone keeps up to date on later sweeps: branches and tags, as ``git clone --bare``
# first fetched them (a bare clone has no fetch refspec of its own).
_FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


@dataclass(frozen=True, kw_only=True)
class RepoTarget:
    """One repository of a sweep, as every worker sees it."""

    name: str
    """How reports name it: the path as given, or the URL without credentials."""
    path: str
    """Absolute path of the repository to open (for a URL, its bare clone in the cache)."""
    url: str | None = None
    """The clone URL as given (may hold credentials: never reported). None for a local path."""
    fetch: bool = True
    """For a URL: fetch into an existing clone (False: sweep the cached clone as it is)."""


def is_url(text: str) -> bool:
    """``scheme://...`` or scp-like ``user@host:path``; anything else is a local path."""
    return bool(_URL_RE.match(text) or _SCP_RE.match(text))


def public_url(url: str) -> str:
    """The URL without user name, password or token, for reports and messages."""
    if not _URL_RE.match(url):
        return url  # scp-like: the user part (git@) is an account name, not a secret
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def cache_path(cache_root: Path, url: str) -> Path:
    """Where the bare clone of ``url`` lives: readable, collision-free, no credentials."""
    clean = public_url(url)
    digest = hashlib.sha256(clean.encode()).hexdigest()[:12]
    readable = _UNSAFE.sub("_", re.sub(r"^[A-Za-z0-9+.-]+://", "", clean)).strip("._")[-80:]
    return cache_root / "repos" / f"{readable or 'repo'}-{digest}.git"


def read_repo_list(path: str) -> list[tuple[str, Path]]:
    """Entries of a ``--repos`` file: one path or URL a line, ``#`` comments, blank lines skipped.

    Returns (entry, folder relative paths are resolved against: the list file's folder).
    ``-`` reads the list from standard input (relative paths: the current folder).
    """
    import sys

    if path == "-":
        text = sys.stdin.read()
        base = Path.cwd()
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NhiscanError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NhiscanError(f"{path}: cannot read the repository list: {exc}") from None
        base = Path(path).resolve().parent
    out = []
    for line in text.splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            out.append((entry, base))
    return out


def resolve_targets(
    entries: Iterable[tuple[str, Path]],
    *,
    cache_root: Path,
    fetch: bool = True,
) -> list[RepoTarget]:
    """Targets in the order given, each repository once (same folder or same URL)."""
    targets: list[RepoTarget] = []
    seen: set[str] = set()
    for entry, base in entries:
        if is_url(entry):
            clean = public_url(entry)
            key = f"url:{clean}"
            target = RepoTarget(
                name=clean, path=str(cache_path(cache_root, entry)), url=entry, fetch=fetch
            )
        else:
            expanded = os.path.expanduser(entry)
            absolute = os.path.normpath(os.path.join(base, expanded))
            key = f"path:{os.path.realpath(absolute)}"
            target = RepoTarget(name=os.path.normpath(entry), path=absolute)
        if key in seen:
            continue
        seen.add(key)
        targets.append(target)
    return targets


def _scrub(message: str, url: str) -> str:
    clean = public_url(url)
    return message.replace(url, clean) if url != clean else message


def ensure_clone(target: RepoTarget) -> None:
    """Make ``target.path`` a bare clone of ``target.url`` (fetching into an existing one).

    Idempotent and safe to run twice at once: a new clone is made in a temporary folder
    beside the cache entry and renamed into place; the loser of a race uses the winner's.
    """
    assert target.url is not None
    dest = Path(target.path)
    # Our own bare clone: its config is ours, so ssh may run (the safety options turn
    # core.sshCommand off for repositories we do not own); GIT_SSH_COMMAND still wins.
    ssh = ("-c", "core.sshCommand=ssh")
    try:
        if (dest / "HEAD").is_file():
            if target.fetch:
                run_git(dest, [*ssh, "fetch", "--quiet", "--prune", "origin", *_FETCH_REFSPECS])
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        try:
            run_git(dest.parent, [*ssh, "clone", "--bare", "--quiet", "--", target.url, tmp])
            try:
                os.rename(tmp, dest)
            except OSError:
                if not (dest / "HEAD").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except GitError as exc:
        message = _scrub(str(exc), target.url)
        # run_git names the command by its first argument; say what failed instead.
        message = re.sub(r"^.*?: git -c failed: ", "", message)
        raise GitError(f"{target.name}: cannot clone or fetch: {message}") from None
    except OSError as exc:
        raise GitError(f"{target.name}: cannot write the clone cache {dest.parent}: {exc.strerror or exc}") from None
