"""What the repository knows about a credential: at HEAD or not, removed when, by whom.

Everything goes through ``nhiscan.sources.gitcmd`` (hardened git invocations). No raw secret is
ever passed to git: presence is decided here, in memory, by a :class:`SecretProbe`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol

from nhiscan.engine.text import normalize
from nhiscan.errors import GitError
from nhiscan.inventory.model import Seen
from nhiscan.sources.gitcmd import run_git

if TYPE_CHECKING:
    from nhiscan.engine.scanner import Scanner

_NULL_SHA = "0" * 40
_MAX_PATHS_PER_ENTRY = 50
_MAX_BLAME = 2000


class SecretProbe(Protocol):
    """Which of the credentials we look for are inside some bytes (by secret hash)."""

    def hashes_in(self, data: bytes) -> set[str]: ...


class RawSecretProbe:
    """From a live scan: the raw secrets are in memory already; a substring test suffices."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self._secrets = {hashlib.sha256(s).hexdigest(): s for s in secrets if s}

    def hashes_in(self, data: bytes) -> set[str]:
        text = normalize(data)
        if text is None:
            return set()
        return {h for h, s in self._secrets.items() if s in text}


class ScannerProbe:
    """From a report read back (hashes only): rescan the bytes and hash what matches."""

    def __init__(self, scanner: Scanner) -> None:
        self._scanner = scanner

    def hashes_in(self, data: bytes) -> set[str]:
        from nhiscan.scan import scan_bytes

        outcome = scan_bytes(self._scanner, "<inventory>", data)
        return {hashlib.sha256(m.secret).hexdigest() for m in outcome.matches}


def repo_top(path: Path) -> Path | None:
    from nhiscan.sources.gitcmd import work_tree_root

    try:
        return work_tree_root(path) if path.exists() else None
    except GitError:
        return None


def head_commit(repo: Path) -> str | None:
    proc = run_git(repo, ["rev-parse", "--verify", "-q", "HEAD^{commit}"], check=False)
    sha = proc.stdout.decode("ascii", "replace").strip()
    return sha if proc.returncode == 0 and sha else None


def read_at_head(repo: Path, path: str) -> bytes | None:
    proc = run_git(repo, ["cat-file", "blob", f"HEAD:{path}"], check=False)
    return proc.stdout if proc.returncode == 0 else None


def commit_seen(repo: Path, rev: str) -> Seen | None:
    proc = run_git(repo, ["log", "-1", "--format=%H%x00%an%x00%ae%x00%aI", rev, "--"], check=False)
    parts = proc.stdout.decode("utf-8", "replace").strip().split("\0")
    if proc.returncode != 0 or len(parts) != 4:
        return None
    return Seen(commit=parts[0], author=parts[1], email=parts[2], date=parts[3])


def read_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Contents of blobs by id, through one ``git cat-file --batch``."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    proc = run_git(repo, ["cat-file", "--batch"], input_bytes=("\n".join(wanted) + "\n").encode())
    out: dict[str, bytes] = {}
    data = proc.stdout
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        header = data[pos:nl].decode("ascii", "replace").split()
        pos = nl + 1
        if len(header) == 2 and header[1] == "missing":
            continue
        sha, _type, size = header[0], header[1], int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1
    return out


@dataclass(frozen=True, kw_only=True)
class PathChange:
    """A commit on HEAD's first-parent line that changed a path."""

    seen: Seen
    blob: str | None
    """The path's blob after the commit (None: deleted)."""


def path_changes(repo: Path, path: str) -> list[PathChange]:
    """Changes to ``path`` along HEAD's first-parent line, oldest first."""
    proc = run_git(
        repo,
        [
            "log", "--first-parent", "--diff-merges=first-parent", "--no-renames", "--raw",
            "--no-abbrev", "--reverse", "--format=%x01%H%x00%an%x00%ae%x00%aI", "HEAD", "--",
            path,
        ],
        check=False,
    )
    if proc.returncode != 0:
        return []
    changes: list[PathChange] = []
    for chunk in proc.stdout.decode("utf-8", "surrogateescape").split("\x01")[1:]:
        head, _, rest = chunk.partition("\n")
        parts = head.split("\0")
        if len(parts) != 4:
            continue
        seen = Seen(commit=parts[0], author=parts[1], email=parts[2], date=parts[3])
        for raw in rest.splitlines():
            if not raw.startswith(":"):
                continue
            meta, _, _name = raw.partition("\t")
            fields = meta.split()
            if len(fields) < 5:
                continue
            new = fields[3]
            changes.append(PathChange(seen=seen, blob=None if new == _NULL_SHA or fields[4] == "D" else new))
    return changes


def head_blobs(repo: Path) -> dict[str, list[str]]:
    """Blob id -> the paths holding it at HEAD."""
    proc = run_git(repo, ["ls-tree", "-r", "-z", "--full-tree", "HEAD"], check=False)
    out: dict[str, list[str]] = {}
    if proc.returncode != 0:
        return out
    for rec in proc.stdout.split(b"\0"):
        if not rec:
            continue
        meta, _, name = rec.partition(b"\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == b"blob":
            out.setdefault(fields[2].decode(), []).append(os.fsdecode(name))
    return out


@dataclass(frozen=True, kw_only=True)
class Presence:
    present_at_head: bool
    head_paths: tuple[str, ...]
    removed_in: Seen | None
    last_seen: Seen | None


class PresenceOracle(Protocol):
    """Decides whether a credential (by secret hash) is at HEAD, else when it was removed."""

    def presence(self, secret_sha256: str, paths: Iterable[str]) -> Presence: ...


class HistoryOracle:
    """Answers presence questions for one repository, caching blobs and their probe results."""

    def __init__(self, repo: Path, probe: SecretProbe) -> None:
        self.repo = repo
        self.probe = probe
        self._changes: dict[str, list[PathChange]] = {}
        self._hashes: dict[str, set[str]] = {}
        self._head: dict[str, list[str]] | None = None
        self.head = head_commit(repo)

    def _changes_of(self, path: str) -> list[PathChange]:
        if path not in self._changes:
            self._changes[path] = path_changes(self.repo, path)
        return self._changes[path]

    def _hashes_of(self, blobs: Iterable[str]) -> None:
        missing = [b for b in blobs if b not in self._hashes]
        for sha, data in read_blobs(self.repo, missing).items():
            self._hashes[sha] = self.probe.hashes_in(data)
        for sha in missing:
            self._hashes.setdefault(sha, set())

    def presence(self, secret_sha256: str, paths: Iterable[str]) -> Presence:
        if self.head is None:
            return Presence(present_at_head=False, head_paths=(), removed_in=None, last_seen=None)
        paths = sorted(set(paths))[:_MAX_PATHS_PER_ENTRY]
        histories = {p: self._changes_of(p) for p in paths}
        self._hashes_of(c.blob for h in histories.values() for c in h if c.blob)
        containing: set[str] = set()
        removals: list[Seen] = []
        for hist in histories.values():
            state = False
            removal: Seen | None = None
            for change in hist:
                has = change.blob is not None and secret_sha256 in self._hashes.get(change.blob, set())
                if has and change.blob:
                    containing.add(change.blob)
                if state and not has:
                    removal = change.seen
                elif has:
                    removal = None
                state = has
            if removal is not None and not state:
                removals.append(removal)
        if self._head is None:
            self._head = head_blobs(self.repo)
        head_paths = sorted({p for b in containing for p in self._head.get(b, [])})
        if head_paths:
            return Presence(present_at_head=True, head_paths=tuple(head_paths), removed_in=None, last_seen=commit_seen(self.repo, "HEAD"))
        removed = max(removals, key=lambda s: s.date) if removals else None
        last = commit_seen(self.repo, f"{removed.commit}^") if removed else None
        return Presence(present_at_head=False, head_paths=(), removed_in=removed, last_seen=last)


def blame_line(repo: Path, path: str, line: int) -> Seen | None:
    """The commit that last changed ``line`` of ``path`` in the work tree (None: uncommitted)."""
    proc = run_git(repo, ["blame", "--porcelain", "-L", f"{line},{line}", "--", path], check=False)
    if proc.returncode != 0:
        return None
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if not lines:
        return None
    sha = lines[0].split(" ", 1)[0]
    if sha == _NULL_SHA:
        return None
    fields: dict[str, str] = {}
    for ln in lines[1:]:
        if ln.startswith("\t"):
            break
        key, _, value = ln.partition(" ")
        fields[key] = value
    try:
        from datetime import datetime, timedelta, timezone

        tz = fields.get("author-tz", "+0000")
        sign = -1 if tz.startswith("-") else 1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        date = datetime.fromtimestamp(int(fields["author-time"]), tz=timezone(offset)).isoformat()
    except (KeyError, ValueError):
        date = ""
    return Seen(commit=sha, author=fields.get("author", ""), email=fields.get("author-mail", "").strip("<>"), date=date)


class Blamer:
    """Bounded, cached ``git blame`` of single lines."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._cache: dict[tuple[str, int], Seen | None] = {}

    def __call__(self, path: str, line: int) -> Seen | None:
        key = (path, line)
        if key not in self._cache:
            self._cache[key] = blame_line(self.repo, path, line) if len(self._cache) < _MAX_BLAME else None
        return self._cache[key]
