"""Files and folders on disk, as they are now.

Inside a git work tree, what git ignores is skipped (``git ls-files -co --exclude-standard``).
Symlinks are never followed: a link inside the tree is covered by scanning its target, a link
that leaves the tree or loops is skipped with a warning. FIFOs, sockets and devices are never
opened.
"""

from __future__ import annotations

import errno
import operator
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from nhiscan.errors import SourceError
from nhiscan.model import ReadError, Skipped
from nhiscan.sources.gitcmd import run_git, work_tree_root


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """A regular file to scan."""

    path: str
    """Display path: relative to the scan root, '/'-separated, printable."""
    fspath: str
    """Path to open (may hold surrogate-escaped bytes)."""
    size: int


@dataclass(kw_only=True)
class FileListing:
    root: Path
    files: list[FileEntry]
    skipped: list[Skipped]
    errors: list[ReadError]
    git_root: Path | None


def display_path(fspath: str, root: Path) -> str:
    """Relative to ``root`` when under it, '/'-separated, undecodable bytes escaped."""
    try:
        rel = os.path.relpath(fspath, root)
    except ValueError:
        rel = fspath
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.abspath(fspath)
    raw = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return raw.replace(os.sep, "/")


def _shown_below(base_shown: str, rel: str) -> str:
    """Display path of ``rel`` below a folder shown as ``base_shown`` (no relpath per file:
    a tree of 100,000 files would spend seconds in it)."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace").replace(os.sep, "/")
    return text if base_shown in ("", ".") else f"{base_shown}/{text}"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_root(paths: list[str]) -> Path:
    """What report paths are relative to: the one folder scanned, else the current folder.

    Lexical, not resolved: a folder reached through a symlink still yields relative paths.
    """
    if len(paths) == 1 and os.path.isdir(paths[0]):
        return Path(os.path.abspath(paths[0]))
    return Path.cwd()


def list_files(
    paths: list[str],
    *,
    no_ignore: bool,
    max_size: int,
    on_file: Callable[[FileEntry], None] | None = None,
) -> FileListing:
    """Expand the user's paths into files to scan, plus what was skipped and why.

    ``on_file`` sees each file as soon as it is listed (so scanning can start before the
    listing of a large tree ends).
    """
    if not paths:
        paths = ["."]
    for p in paths:
        if not os.path.lexists(p):
            raise SourceError(f"{p}: no such file or directory")
    root = scan_root(paths)
    skipped: list[Skipped] = []
    errors: list[ReadError] = []
    files: list[FileEntry] = []
    seen: set[str] = set()
    git_root: Path | None = None

    # One folder or file named: nothing can be listed twice, no need to key every file.
    dedupe = len(paths) > 1

    def consider(
        fspath: str, tree_root: str, shown: str | None = None, st: os.stat_result | None = None
    ) -> None:
        shown = shown or display_path(fspath, root)
        if st is None:
            try:
                st = os.lstat(fspath)
            except FileNotFoundError:
                return  # listed by git but deleted from the work tree: nothing to scan
            except OSError as exc:
                errors.append(ReadError(path=shown, message=exc.strerror or str(exc)))
                return
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.path.realpath(fspath, strict=True)
            except (OSError, RuntimeError):
                skipped.append(Skipped(path=shown, reason="symlink loop or dangling link"))
                return
            if not _inside(target, tree_root):
                skipped.append(Skipped(path=shown, reason="symlink leaves the scanned tree"))
            # A link inside the tree: its target is scanned on its own.
            return
        if stat.S_ISDIR(st.st_mode):
            # A directory in a git listing is a submodule (gitlink) or nested repository.
            skipped.append(Skipped(path=shown, reason="submodule or nested repository"))
            return
        if not stat.S_ISREG(st.st_mode):
            skipped.append(Skipped(path=shown, reason="not a regular file (FIFO, socket or device)"))
            return
        if st.st_size > max_size:
            skipped.append(Skipped(path=shown, reason=f"larger than --max-file-size ({st.st_size} bytes)"))
            return
        if dedupe:
            key = os.path.abspath(fspath)
            if key in seen:
                return
            seen.add(key)
        entry = FileEntry(path=shown, fspath=fspath, size=st.st_size)
        files.append(entry)
        if on_file is not None:
            on_file(entry)

    for p in paths:
        real = os.path.realpath(p)
        if not os.path.isdir(p) or os.path.islink(p) and not os.path.isdir(real):
            # An explicitly named file is scanned even if git ignores it; a named link to a
            # file is followed (the user asked for it), shown under the name given.
            if os.path.islink(p) and os.path.exists(real):
                consider(real, os.path.dirname(real) or os.sep, shown=display_path(p, root))
            else:
                consider(p, os.path.dirname(real) or os.sep)
            continue
        top = None if no_ignore else work_tree_root(Path(p))
        if top is not None and _ignored_by_git(Path(p)):
            top = None  # a folder the user named explicitly is scanned even if git ignores it
        if top is not None:
            git_root = git_root or top
            listed, unreadable = _git_listing(Path(p))
            for rel in unreadable:
                errors.append(ReadError(path=display_path(os.path.join(p, rel), root), message="Permission denied (folder not listed)"))
            base_shown = display_path(p, root)
            for rel in listed:
                consider(os.path.join(p, rel), real, shown=_shown_below(base_shown, rel))
        else:
            base_shown = display_path(p, root)
            cut = len(p.rstrip(os.sep)) + 1 if p.rstrip(os.sep) else 1
            for fspath, st in _walk(p, errors, root):
                consider(fspath, real, shown=_shown_below(base_shown, fspath[cut:]), st=st)
    files.sort(key=lambda f: f.path)
    return FileListing(root=root, files=files, skipped=skipped, errors=errors, git_root=git_root)


_UNREADABLE_DIR = re.compile(rb"could not open directory '(.*)': ")


def _git_listing(directory: Path) -> tuple[list[str], list[str]]:
    """Files git tracks or would track below ``directory``, and folders it could not open
    (git only warns about those and exits 0: they must not pass silently)."""
    proc = run_git(
        directory, ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"]
    )
    unreadable = [os.fsdecode(m.group(1)) for m in _UNREADABLE_DIR.finditer(proc.stderr)]
    return [os.fsdecode(x) for x in proc.stdout.split(b"\0") if x], unreadable


def _ignored_by_git(directory: Path) -> bool:
    if directory.name in ("", ".", ".."):
        return False
    proc = run_git(directory.parent if str(directory.parent) else Path("."), ["check-ignore", "-q", "--", directory.name], check=False)
    return proc.returncode == 0


_BY_NAME = operator.attrgetter("name")


def _walk(top: str, errors: list[ReadError], root: Path) -> Iterator[tuple[str, os.stat_result | None]]:
    """Every non-directory below ``top`` (``.git`` folders left out, links not followed), in
    name order, with its ``lstat`` result: one ``scandir`` per folder and one ``lstat`` per
    file (for its size), none for the folders themselves."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=_BY_NAME)
        except OSError as exc:
            name = exc.filename if isinstance(exc.filename, str) else folder
            errors.append(ReadError(path=display_path(name, root), message=exc.strerror or str(exc)))
            continue
        subfolders: list[str] = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git":
                        subfolders.append(entry.path)
                    continue
                st: os.stat_result | None = entry.stat(follow_symlinks=False)
            except OSError:
                st = None  # consider() names the error (or the file vanished)
            yield entry.path, st
        stack.extend(reversed(subfolders))


def _open_regular(entry: FileEntry, max_size: int) -> int:
    """Open without following links or blocking on special files; checks it is still regular."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(entry.fspath, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("became a symlink during the scan") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("is no longer a regular file")
        if st.st_size > max_size:
            raise ValueError(f"grew past --max-file-size ({st.st_size} bytes)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(entry: FileEntry, max_size: int) -> bytes:
    """Read a whole regular file.

    Raises OSError for unreadable files (FileNotFoundError if it vanished); ValueError if it
    changed into something else or grew past ``max_size`` since it was listed.
    """
    chunks = list(read_chunks(entry, max_size, 1 << 22))
    return b"".join(chunks)


def read_chunks(entry: FileEntry, max_size: int, chunk_size: int) -> Iterator[bytes]:
    """The file's bytes in pieces of ``chunk_size`` (the last may be shorter), bounded memory."""
    fd = _open_regular(entry, max_size)
    try:
        total = 0
        while True:
            piece = os.read(fd, chunk_size)
            if not piece:
                return
            total += len(piece)
            if total > max_size:
                raise ValueError("grew past --max-file-size while being read")
            yield piece
    finally:
        os.close(fd)
