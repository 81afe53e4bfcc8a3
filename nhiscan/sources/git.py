"""Git as a source: the whole history, a range of commits, or the staged changes.

Three readers, one safety story (every git process goes through :mod:`nhiscan.sources.gitcmd`,
and diff-producing commands also get ``--no-ext-diff --no-textconv`` plus explicit output
options, so nothing in a repository's config can run code or change what we parse):

* **History sweep.** Each unique blob is read once, in pack order: listed by
  ``git cat-file --batch-all-objects --unordered --batch-check``, read from the pack files by
  :mod:`nhiscan.sources.pack` where it can and otherwise streamed by
  ``git cat-file --batch --buffer`` (:func:`stream_blobs`).
  Where a blob lives (path, introducing commit, number of commits holding it) is worked out
  afterwards, and only for the blobs that had findings, by :func:`locate_blobs`: one
  ``git log --all --raw`` pass that replays every commit's tree as a diff against its first
  parent and tracks only the paths holding those blobs.
* **Commit ranges** (``--range A..B``, rev-list arguments). ``git log -p -U0 --raw --cc`` over
  the listed commits gives, per commit and file, the new blob and the line numbers it adds;
  merges count only lines that differ from every parent (dense combined diff).
* **Staged changes.** ``git diff --cached`` the same way: the index against HEAD.

Range and staged readers return :class:`FileChange` records; the caller reads the new blob
(whole, so multi-line secrets and inline allow directives keep their context) and keeps only
the matches that touch an added line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Generator, Iterable, Iterator, Sequence

from nhiscan.errors import GitError, SourceError
from nhiscan.model import CommitInfo
from nhiscan.sources.gitcmd import STORED_OBJECTS, first_line, popen_git, run_git

ZERO_OID_RE = re.compile(rb"^0+$")
_HEX_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")

# Options for every diff we parse: nothing external runs (no external diff drivers, no
# textconv filters) and the repository's config cannot change the shape of the output
# (prefixes, colour, relative paths, submodule summaries, context lines, a diff.orderFile
# that does not exist).
DIFF_OPTIONS: tuple[str, ...] = (
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-relative",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--submodule=short",
    "--full-index",
    "--no-abbrev",
    "--inter-hunk-context=0",
    "-U0",
    "-O/dev/null",
)

_COMMIT_MARK = b"\x01"
_FIELD_SEP = b"\x02"
_COMMIT_FORMAT = "--format=%x01%H %P%x02%an%x02%ae%x02%aI"

# Rev-list options that write files or otherwise act outside listing commits.
_FORBIDDEN_REV_ARGS = ("--output",)

REGULAR_MODES = frozenset({"100644", "100755", "100664"})
SUBMODULE_MODE = "160000"
SYMLINK_MODE = "120000"


# ---- the repository ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RepoInfo:
    """A repository opened for reading."""

    path: Path
    """What the user named."""
    git_dir: Path
    root: Path
    """The work tree's top, or the git directory of a bare repository."""
    bare: bool
    shallow: bool
    head: str | None
    """The commit HEAD points at (None on an unborn branch)."""
    objects_dir: Path
    """Its object directory (``--git-path objects``: a linked worktree's is the main one's;
    ``GIT_OBJECT_DIRECTORY`` is honoured)."""


def open_repo(path: Path) -> RepoInfo:
    """Check that ``path`` is (inside) a git repository; a clear SourceError/GitError if not."""
    if not path.exists():
        raise SourceError(f"{path}: no such directory")
    if not path.is_dir():
        raise SourceError(f"{path}: not a directory (give the repository's folder)")
    proc = run_git(
        path,
        [
            "rev-parse",
            "--is-bare-repository",
            "--absolute-git-dir",
            "--is-shallow-repository",
            "--git-path",
            "objects",
            "--show-toplevel",  # fails in a bare repository, after the lines we need
            "HEAD^{commit}",  # fails on an unborn branch: then asked again on its own below
            "--",  # a revision, never a file name; echoed as the last line on success
        ],
        check=False,
    )
    lines = [os.fsdecode(x) for x in proc.stdout.splitlines()]
    if len(lines) < 4 or lines[0] not in ("true", "false"):
        msg = first_line(proc.stderr)
        if "not a git repository" in msg:
            raise GitError(f"{path}: not a git repository")
        raise GitError(f"{path}: {msg}")
    bare_s, git_dir_s, shallow_s, objects_s = lines[:4]
    bare = bare_s == "true"
    root: Path | None = None
    if len(lines) >= 5 and lines[4]:  # (an unborn HEAD fails after this line)
        root = Path(lines[4])
    git_dir = Path(git_dir_s)
    if proc.returncode == 0 and len(lines) == 7 and lines[6] == "--":
        head: str | None = lines[5]
    else:
        head_proc = run_git(path, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False)
        head = head_proc.stdout.decode().strip() if head_proc.returncode == 0 else None
    return RepoInfo(
        path=path,
        git_dir=git_dir,
        root=root if root is not None else git_dir,
        bare=bare or root is None,
        shallow=shallow_s == "true",
        head=head or None,
        objects_dir=(path / objects_s).resolve(),  # (relative to ``path``, where git ran, unless absolute)
    )


def shallow_boundaries(repo: RepoInfo) -> set[str]:
    """Commits whose parents a shallow clone does not have."""
    if not repo.shallow:
        return set()
    proc = run_git(repo.root, ["rev-parse", "--git-path", "shallow"], check=False)
    name = os.fsdecode(proc.stdout.strip())
    shallow_file = Path(name) if os.path.isabs(name) else repo.root / name
    try:
        return {x.strip() for x in shallow_file.read_text().splitlines() if x.strip()}
    except OSError:
        return set()


def count_commits(repo: RepoInfo) -> int:
    proc = run_git(repo.root, ["rev-list", "--all", "--count"], check=False)
    try:
        return int(proc.stdout.strip() or b"0")
    except ValueError:
        return 0


# ---- path quoting -----------------------------------------------------------------------------

_ESCAPES = {
    ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
    ord("r"): 13, ord('"'): 34, ord("\\"): 92,
}


def unquote_path(raw: bytes) -> bytes:
    """Undo git's C-style quoting of a path (``"a\\tb\\303\\251"``); unquoted paths pass as is."""
    if len(raw) < 2 or raw[:1] != b'"' or raw[-1:] != b'"':
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != 0x5C or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if 0x30 <= nxt <= 0x37 and i + 3 < n + 1 and body[i + 1 : i + 4].isdigit():
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return bytes(out)


def display(path: bytes) -> str:
    """A repository path for reports: '/'-separated, undecodable bytes escaped."""
    return path.decode("utf-8", "backslashreplace")


# ---- reading blobs ----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class BlobListing:
    """Every blob in the object store, in pack order."""

    blobs: list[tuple[str, int]]
    """(object id, size) pairs."""
    unreadable: list[str]
    """Objects the store lists but cannot read (corrupt)."""


_LIST_ARGS = (
    STORED_OBJECTS,
    "cat-file",
    "--batch-all-objects",
    "--unordered",
    "--batch-check=%(objecttype) %(objectname) %(objectsize)",
)
_LISTED_BLOB = re.compile(rb"^blob ([0-9a-f]+) ([0-9]+)$", re.MULTILINE)
_LISTED_MISSING = re.compile(rb"^([0-9a-f]+) missing$", re.MULTILINE)


def _parse_listing(out: bytes) -> BlobListing:
    return BlobListing(
        blobs=[(oid.decode(), int(size)) for oid, size in _LISTED_BLOB.findall(out)],
        unreadable=[oid.decode() for oid in _LISTED_MISSING.findall(out)],
    )


def list_blobs(repo: RepoInfo, early: EarlyListing | None = None) -> BlobListing:
    """All blobs of the repository (and its alternates), in the order packs store them (from
    ``early``, the same listing started before, when it succeeded)."""
    if early is not None:
        listing = early.take()
        if listing is not None:
            return listing
    return _parse_listing(run_git(repo.root, _LIST_ARGS).stdout)


class EarlyListing:
    """:func:`list_blobs` started as the command starts, before the repository is opened:
    git lists the objects (30-40 ms on a large history) while the interpreter imports the
    engine and loads the rules. Its output goes to a temporary file. :meth:`take` gives the
    listing, or None if git failed or could not start (the caller then lists as usual, and
    reports what is wrong as usual); :meth:`close` stops git if it is still running."""

    def __init__(self, repo: Path) -> None:
        import tempfile

        self._out = tempfile.TemporaryFile()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = popen_git(
                repo, _LIST_ARGS, stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.DEVNULL
            )
        except GitError:  # (git not found, or not runnable: the usual path says so)
            pass

    def take(self) -> BlobListing | None:
        proc, self._proc = self._proc, None
        if proc is None or proc.wait() != 0:
            return None
        self._out.seek(0)
        return _parse_listing(self._out.read())

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._out.close()


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")


def repository_uri(repo: RepoInfo) -> str:
    """The ``origin`` remote as a URI without credentials, else the repository's file URI
    (for SARIF ``versionControlProvenance``)."""
    proc = run_git(repo.root, ["remote", "get-url", "origin"], check=False)
    url = proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""
    if not url:
        return Path(repo.root).resolve().as_uri()
    url = _USERINFO.sub(r"\1", url)  # never carry a token from https://user:token@host
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        url = f"ssh://{scp.group(1)}/{scp.group(2)}"
    return url


def refs_to_blobs(repo: RepoInfo) -> dict[str, str]:
    """Blob id -> ref name, for refs (or annotated tags) that point straight at a blob.

    Such blobs are in no commit's tree but are reachable, and pushed with ``--tags``.
    """
    proc = run_git(
        repo.root,
        ["for-each-ref", "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname)"],
    )
    out: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ")
        if len(parts) < 5:
            continue
        typ, oid, peeled_type, peeled_oid, ref = parts[0], parts[1], parts[2], parts[3], " ".join(parts[4:])
        if typ == "blob":
            out.setdefault(oid, ref)
        elif peeled_type == "blob":
            out.setdefault(peeled_oid, ref)
    return out


class BlobTooLarge(Exception):
    """Raised by :meth:`CatFile.get` for a blob over the size limit; carries the size."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class CatFile:
    """One ``git cat-file --batch`` process answering requests one at a time.

    For the range and staged readers, where blobs are requested as the diff is parsed.
    """

    def __init__(self, repo: Path) -> None:
        self._repo = repo
        import tempfile

        self._err = tempfile.TemporaryFile()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = popen_git(
                self._repo, [STORED_OBJECTS, "cat-file", "--batch"], stdin=subprocess.PIPE, stderr=self._err
            )
        return self._proc

    def get(self, oid: str, max_size: int) -> bytes | None:
        """The blob's bytes; None if it cannot be read; BlobTooLarge past ``max_size``."""
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(oid.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._proc = None
            return None
        header = proc.stdout.readline()
        parts = header.split()
        if len(parts) != 3:
            if not header:  # git died on this object (corrupt pack data)
                self._kill()
            return None
        size = int(parts[2])
        if size > max_size:
            _discard(proc.stdout, size + 1)
            raise BlobTooLarge(size)
        data = proc.stdout.read(size)
        proc.stdout.read(1)
        if len(data) != size:
            self._kill()
            return None
        return data

    def _kill(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass
            _stop(self._proc)
            self._proc = None
        self._err.close()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _discard(stream: IO[bytes], n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):  # ValueError: already closed by a writer thread
                pass
    proc.wait()


MAX_RESTARTS = 1000
"""git restarts (one per object it dies on) allowed in a run before giving up on the rest,
or a quarter of the run if more."""


def stream_blobs(
    repo: Path, oids: Sequence[str], on_give_up: Callable[[int, int], None] | None = None
) -> Generator[tuple[str, bytes | None], None, None]:
    """Yield ``(oid, bytes)`` for each requested blob, in order; ``None`` when unreadable.

    One ``cat-file --batch --buffer`` process is fed by a thread while this generator reads,
    so git never waits for us to ask. If git dies on a corrupt object, that object is
    reported unreadable and a new process carries on after it. Each restart costs a git
    process (about 2 ms): past 1,000 restarts and a quarter of ``oids``, the rest is reported
    unreadable at once (the blobs already read keep their results either way), after telling
    ``on_give_up`` how many made git fail and how many are left unread.
    """
    pos = 0
    restarts = 0
    limit = max(MAX_RESTARTS, len(oids) // 4)
    while pos < len(oids):
        if restarts > limit:
            if on_give_up is not None:
                on_give_up(restarts, len(oids) - pos)
            for oid in oids[pos:]:
                yield oid, None
            return
        proc = popen_git(
            repo, [STORED_OBJECTS, "cat-file", "--batch", "--buffer"], stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        _widen_pipe(proc.stdout.fileno())
        start = pos
        writer = threading.Thread(target=_feed, args=(proc.stdin, oids, start), daemon=True)
        writer.start()
        out = proc.stdout
        try:
            while pos < len(oids):
                oid = oids[pos]
                header = out.readline()
                if not header:
                    # git died on this object: report it and restart after it.
                    yield oid, None
                    pos += 1
                    restarts += 1
                    break
                parts = header.split()
                pos += 1
                if len(parts) != 3:
                    yield oid, None
                    continue
                size = int(parts[2])
                data = out.read(size)
                out.read(1)
                if len(data) != size:
                    yield oid, None
                    restarts += 1
                    break
                yield oid, data
        finally:
            # The writer owns stdin until it has closed it: stop git (which ends the writer's
            # blocked write), let the writer finish, then close what is left.
            if proc.poll() is None:
                proc.kill()
            writer.join(timeout=5)
            _stop(proc)


_F_SETPIPE_SZ = 1031  # Linux


def _widen_pipe(fd: int) -> None:
    """Let git decompress up to 1 MB ahead of us instead of 64 KB (~15% faster with one job)."""
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
    except (ImportError, OSError):
        pass


def _feed(stdin: IO[bytes], oids: Sequence[str], start: int = 0) -> None:
    try:
        buf: list[bytes] = []
        for i in range(start, len(oids)):
            oid = oids[i]
            buf.append(oid.encode())
            if len(buf) >= 4096:
                stdin.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            stdin.write(b"\n".join(buf) + b"\n")
        stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


# ---- where blobs live in history --------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Placement:
    """A blob at one path in history."""

    path: str
    oid: str
    commit: CommitInfo
    """The first commit (oldest first, parents before children) that put it at this path."""
    order: int
    """Position of that commit in the walk (smaller is earlier)."""
    commits: int
    """How many commits hold this blob at this path."""


@dataclass(kw_only=True)
class HistoryMap:
    placements: dict[str, list[Placement]] = field(default_factory=dict)
    """Object id -> the paths it appears at (only for the blobs asked about)."""
    commits: int = 0
    submodules: int = 0


def _parse_header(line: bytes) -> tuple[str, list[str], CommitInfo]:
    head, name, email, date = line[1:].rstrip(b"\n").split(_FIELD_SEP, 3)
    shas = head.decode().split()
    info = CommitInfo(
        sha=shas[0],
        author=name.decode("utf-8", "replace"),
        email=email.decode("utf-8", "replace"),
        date=date.decode("utf-8", "replace"),
    )
    return shas[0], shas[1:], info


@dataclass(frozen=True, kw_only=True)
class RawEntry:
    """One line of ``--raw`` output."""

    modes: tuple[str, ...]
    """Source mode(s) then destination mode."""
    oids: tuple[str, ...]
    """Source object id(s) then destination object id."""
    status: str
    paths: tuple[bytes, ...]
    """Destination path last."""

    @property
    def new_oid(self) -> str:
        return self.oids[-1]

    @property
    def new_mode(self) -> str:
        return self.modes[-1]

    @property
    def path(self) -> bytes:
        return self.paths[-1]


def parse_raw(line: bytes) -> RawEntry | None:
    """``:100644 100644 <old> <new> M\\tpath`` (or ``::...`` combined, or ``R100\\told\\tnew``)."""
    meta, _, rest = line.rstrip(b"\n").partition(b"\t")
    if not rest:
        return None
    fields = meta.lstrip(b":").split()
    nparents = len(line) - len(line.lstrip(b":"))
    nmodes = nparents + 1
    if len(fields) < 2 * nmodes + 1:
        return None
    modes = tuple(f.decode() for f in fields[:nmodes])
    oids = tuple(f.decode() for f in fields[nmodes : 2 * nmodes])
    status = fields[2 * nmodes].decode()
    paths = tuple(unquote_path(p) for p in rest.split(b"\t"))
    return RawEntry(modes=modes, oids=oids, status=status, paths=paths)


_LOCATE_ARGS = [
    "log",
    "--all",
    "--reverse",
    "--date-order",
    "--root",
    "--no-renames",
    "--diff-merges=first-parent",
    "--raw",
    "--no-abbrev",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-relative",
    "--no-show-signature",
    "-O/dev/null",
    _COMMIT_FORMAT,
]


class CommitWalk:
    """The commit walk :func:`locate_blobs` reads, started ahead: while the sweep is still
    scanning (on a core the scan leaves idle at times), a thread copies git's output into a
    temporary file, and :func:`locate_blobs` reads the file. git writes into a pipe, so it
    dies with this process; if anything goes wrong (git fails, the file cannot be written),
    :func:`locate_blobs` runs the walk itself as before. Close it when done."""

    def __init__(self, repo: RepoInfo) -> None:
        import tempfile

        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._ok = False
        self._out = tempfile.TemporaryFile()
        try:
            self._proc = popen_git(repo.root, _LOCATE_ARGS, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except GitError:
            return  # (locate_blobs runs git itself, and reports what fails)
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _write(self, chunk: bytes) -> None:
        self._out.write(chunk)

    def _copy(self) -> None:
        assert self._proc is not None
        stdout = self._proc.stdout
        assert isinstance(stdout, io.BufferedReader)  # (popen_git's)
        try:
            while chunk := stdout.read1(1 << 20):
                self._write(chunk)
            self._ok = True
        except (OSError, ValueError):  # (a full disk; or closed under us)
            pass
        finally:
            stdout.close()  # git, if still writing, gets SIGPIPE

    def lines(self) -> Iterator[bytes] | None:
        """The walk's lines once git is done; None if it did not complete."""
        if self._proc is None or self._thread is None:
            return None
        self._thread.join()
        if self._proc.wait() != 0 or not self._ok:
            return None
        self._out.flush()
        self._out.seek(0)
        return iter(open(self._out.fileno(), "rb", buffering=1 << 20, closefd=False))

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._out.close()


def locate_blobs(repo: RepoInfo, oids: set[str], walk: CommitWalk | None = None) -> HistoryMap:
    """Where the given blobs appear in the history of all refs.

    One ``git log --all --reverse --date-order --raw --diff-merges=first-parent`` pass (the
    one ``walk`` started ahead, if given): each commit's tree is its first parent's tree plus
    its diff, so tracking only the paths that hold one of ``oids`` reproduces, for every
    commit, which of those blobs it holds and where. Commits that share the same tracked state
    share one dict, so counting how many commits hold each (path, blob) costs one increment
    per commit.
    """
    result = HistoryMap()
    if not oids:
        result.commits = count_commits(repo)
        return result
    wanted_raw = {o.encode() for o in oids}
    empty: dict[bytes, str] = {}
    states: dict[str, dict[bytes, str]] = {}
    state_objects: dict[int, dict[bytes, str]] = {id(empty): empty}
    state_counts: dict[int, int] = {}
    first: dict[tuple[bytes, str], tuple[int, CommitInfo]] = {}
    order = 0
    cur: dict[bytes, str] | None = None
    base: dict[bytes, str] = empty
    commit: CommitInfo | None = None
    copied = False

    def close_commit() -> None:
        if commit is None:
            return
        state = cur if cur is not None else base
        states[commit.sha] = state
        state_objects[id(state)] = state
        state_counts[id(state)] = state_counts.get(id(state), 0) + 1

    ahead = walk.lines() if walk is not None else None  # (None: git walks now)
    for line in ahead if ahead is not None else _stream_lines(repo.root, _LOCATE_ARGS):
        if line.startswith(_COMMIT_MARK):
            close_commit()
            sha, parents, commit = _parse_header(line)
            order += 1
            result.commits += 1
            base = states.get(parents[0], empty) if parents else empty
            cur = None
            copied = False
            continue
        if not line.startswith(b":") or commit is None:
            continue
        tracked = cur if cur is not None else base
        # Most lines change no path of interest: decide that from the raw bytes
        # (``:mode mode old new status\tpath``) before parsing the line.
        tab = line.find(b"\t")
        fields = line[1:tab].split()
        if len(fields) == 5 and fields[3] not in wanted_raw:
            raw_path = line[tab + 1 :].rstrip(b"\n")
            if raw_path[:1] != b'"' and raw_path not in tracked:
                continue
        entry = parse_raw(line)
        if entry is None:
            continue
        path = entry.path
        new = entry.new_oid
        if entry.new_mode == SUBMODULE_MODE:
            continue
        wanted = new in oids and entry.status[:1] != "D"
        if not wanted and path not in tracked:
            continue
        if not copied:
            cur = dict(base)
            copied = True
        assert cur is not None
        if wanted:
            if base.get(path) != new:
                key = (path, new)
                if key not in first:
                    first[key] = (order, commit)
            cur[path] = new
        else:
            cur.pop(path, None)
    close_commit()
    counts: dict[tuple[bytes, str], int] = {}
    for sid, n in state_counts.items():
        for path, oid in state_objects[sid].items():
            counts[(path, oid)] = counts.get((path, oid), 0) + n
    for (path, oid), (pos, info) in first.items():
        result.placements.setdefault(oid, []).append(
            Placement(path=display(path), oid=oid, commit=info, order=pos, commits=counts.get((path, oid), 0))
        )
    for plist in result.placements.values():
        plist.sort(key=lambda p: p.order)
    return result


# ---- revisions --------------------------------------------------------------------------------

def _fetch_hint(repo: RepoInfo, rev: str) -> str:
    if repo.shallow:
        return (
            "this is a shallow clone: fetch the missing history (git fetch --deepen=<n>, or "
            f"git fetch --unshallow) or the revision itself (git fetch origin {rev})"
        )
    return f"check the name, or fetch it first (e.g. git fetch origin {rev})"


def _range_ends(spec: str) -> list[str]:
    for sep in ("...", ".."):
        if sep in spec:
            a, _, b = spec.partition(sep)
            return [x or "HEAD" for x in (a, b)]
    return [spec.lstrip("^")]


def verify_revisions(repo: RepoInfo, revs: Iterable[str]) -> None:
    """Every named revision exists as a commit here; else a GitError saying what to fetch."""
    for rev in revs:
        if rev == "--":
            return  # pathspecs follow
        if rev.startswith("-"):
            continue
        for end in _range_ends(rev):
            proc = run_git(
                repo.root, ["rev-parse", "-q", "--verify", "--end-of-options", f"{end}^{{commit}}"],
                check=False,
            )
            if proc.returncode != 0:
                raise GitError(
                    f"{end}: unknown revision in {repo.path}; {_fetch_hint(repo, end)}"
                )


def list_commits(repo: RepoInfo, rev_args: Sequence[str]) -> list[str]:
    """The commits ``git rev-list`` selects, oldest first."""
    for arg in rev_args:
        if arg.startswith(_FORBIDDEN_REV_ARGS):
            raise GitError(f"{arg}: not allowed in the rev-list arguments")
    verify_revisions(repo, rev_args)
    proc = run_git(repo.root, ["rev-list", "--reverse", *rev_args], check=False)
    if proc.returncode != 0:
        raise GitError(f"{repo.path}: git rev-list {' '.join(rev_args)}: {first_line(proc.stderr)}")
    commits = [c for c in proc.stdout.decode().split() if _HEX_RE.match(c)]
    boundary = shallow_boundaries(repo)
    for c in commits:
        if c in boundary:
            raise GitError(
                f"{' '.join(rev_args)}: reaches past the history of this shallow clone "
                f"(commit {c[:12]} has no parents here); {_fetch_hint(repo, c)}"
            )
    return commits


# ---- diffs: range and staged ------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class FileChange:
    """A file a commit (or the index) changes, and which of its lines are new."""

    path: str
    oid: str
    mode: str
    added: frozenset[int] | None
    """1-based line numbers added in the new version; None: all of it (no textual diff)."""
    commit: CommitInfo | None = None


@dataclass(kw_only=True)
class CommitChanges:
    commit: CommitInfo | None
    files: list[FileChange]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) for files not scanned by policy (submodules)."""


class _Section:
    __slots__ = ("path", "combined", "nparents", "in_header", "added", "line")

    def __init__(self, combined: bool) -> None:
        self.path: bytes | None = None
        self.combined = combined
        self.nparents = 1
        self.in_header = True
        self.added: set[int] = set()
        self.line = 0


_HUNK_RE = re.compile(rb"^@@+ (?:-\d+(?:,\d+)? )+\+(\d+)(?:,(\d+))? @@+")


class PatchParser:
    """Turns ``--raw -p -U0`` output (with our commit header lines) into :class:`CommitChanges`."""

    def __init__(self) -> None:
        self._commit: CommitInfo | None = None
        self._raw: list[RawEntry] = []
        self._sections: dict[bytes, set[int]] = {}
        self._section: _Section | None = None
        self._started = False

    def feed(self, lines: Iterable[bytes]) -> Iterator[CommitChanges]:
        for line in lines:
            if line.startswith(_COMMIT_MARK):
                if self._started:
                    yield self._flush()
                _, _, self._commit = _parse_header(line)
                self._started = True
                continue
            self._started = True
            if line.startswith(b"diff --"):
                self._end_section()
                self._section = _Section(combined=not line.startswith(b"diff --git "))
                continue
            sec = self._section
            if sec is None:
                if line.startswith(b":"):
                    entry = parse_raw(line)
                    if entry is not None:
                        self._raw.append(entry)
                continue
            if sec.in_header:
                if line.startswith(b"+++ "):
                    target = line[4:].rstrip(b"\n")
                    if target.endswith(b"\t"):
                        target = target[:-1]
                    if target != b"/dev/null":
                        p = unquote_path(target)
                        sec.path = p[2:] if p.startswith(b"b/") else p
                elif line.startswith(b"@@"):
                    sec.in_header = False
                    self._hunk(sec, line)
                continue
            if line.startswith(b"@@"):
                self._hunk(sec, line)
            elif sec.combined and line[:1] in (b"+", b"-", b" "):
                cols = line[: sec.nparents]
                if b"-" in cols:
                    continue
                if cols == b"+" * sec.nparents:
                    sec.added.add(sec.line)
                sec.line += 1
        if self._started:
            yield self._flush()

    def _hunk(self, sec: _Section, line: bytes) -> None:
        m = _HUNK_RE.match(line)
        if m is None:
            return
        start = int(m.group(1))
        count = int(m.group(2)) if m.group(2) is not None else 1
        if sec.combined:
            sec.nparents = len(line) - len(line.lstrip(b"@")) - 1
            sec.line = start
        else:
            sec.added.update(range(start, start + count))

    def _end_section(self) -> None:
        sec = self._section
        if sec is not None and sec.path is not None:
            self._sections.setdefault(sec.path, set()).update(sec.added)
        self._section = None

    def _flush(self) -> CommitChanges:
        self._end_section()
        out = CommitChanges(commit=self._commit, files=[])
        for entry in self._raw:
            status = entry.status
            if "D" in status and len(status) == 1:
                continue
            path = display(entry.path)
            mode = entry.new_mode
            if mode == SUBMODULE_MODE:
                if entry.new_oid not in entry.oids[:-1]:
                    out.skipped.append((path, "submodule"))
                continue
            if mode not in REGULAR_MODES or ZERO_OID_RE.match(entry.new_oid.encode()):
                continue  # symlinks, deletions
            if entry.new_oid in entry.oids[:-1]:
                continue  # pure rename, copy or mode change: no new content
            added = self._sections.get(entry.path)
            out.files.append(
                FileChange(
                    path=path,
                    oid=entry.new_oid,
                    mode=mode,
                    added=frozenset(added) if added is not None else None,
                    commit=self._commit,
                )
            )
        self._raw = []
        self._sections = {}
        self._commit = None
        self._started = False
        return out


def _stream_lines(repo: Path, args: Sequence[str], *, input_bytes: bytes | None = None) -> Iterator[bytes]:
    """Run git and yield its stdout lines; a failure is a GitError after the output is read."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        proc = popen_git(
            repo, args, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL, stderr=err
        )
        assert proc.stdout is not None
        writer: threading.Thread | None = None
        if input_bytes is not None:
            assert proc.stdin is not None
            writer = threading.Thread(target=_write_all, args=(proc.stdin, input_bytes), daemon=True)
            writer.start()
        complete = False
        try:
            yield from proc.stdout
            complete = True
        finally:
            proc.stdout.close()
            rc = proc.wait()
            if writer is not None:
                writer.join(timeout=5)
        if complete and rc != 0:
            err.seek(0)
            raise GitError(f"{repo}: git {args[0]} failed: {first_line(err.read())}")


def _write_all(stdin: IO[bytes], data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def commit_changes(repo: RepoInfo, commits: Sequence[str]) -> Iterator[CommitChanges]:
    """What each commit adds, in the order given (merges: lines new against every parent)."""
    if not commits:
        return
    args = [
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "--raw",
        "-p",
        "--cc",
        "-M",
        "--root",
        "--no-show-signature",
        *DIFF_OPTIONS,
        _COMMIT_FORMAT,
    ]
    stdin = ("\n".join(commits) + "\n").encode()
    yield from PatchParser().feed(_stream_lines(repo.root, args, input_bytes=stdin))


def staged_changes(repo: RepoInfo) -> CommitChanges:
    """What the index adds against HEAD (everything, on an unborn branch)."""
    args = ["diff", "--cached", "--raw", "-p", "-M", *DIFF_OPTIONS]
    if repo.head is None:
        # No HEAD yet: compare with the empty tree.
        empty_tree = run_git(repo.root, ["hash-object", "-t", "tree", "--stdin"], input_bytes=b"")
        args.append(empty_tree.stdout.decode().strip())
    results = list(PatchParser().feed(_stream_lines(repo.root, args)))
    if not results:
        return CommitChanges(commit=None, files=[])
    merged = results[0]
    for extra in results[1:]:
        merged.files.extend(extra.files)
        merged.skipped.extend(extra.skipped)
    return merged
