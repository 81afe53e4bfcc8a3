"""Running git safely: a hostile repository's config must not make us run its commands."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Sequence

from nhiscan.errors import GitError

# Options that neutralise the ways a repository's own config can execute code or stall us:
# fsmonitor hooks, hook scripts, external diff and textconv drivers, credential helpers,
# pagers, and remote helpers. Applied to every git invocation.
SAFE_OPTIONS: tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    "-c", "core.untrackedCache=false",
    "-c", "core.sshCommand=false",
    "-c", "diff.external=",
    "-c", "credential.helper=",
    "-c", "protocol.ext.allow=never",
    "-c", "log.showSignature=false",
    "--no-pager",
)


def safe_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_EXTERNAL_DIFF="",
        LC_ALL="C",
    )
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_EXEC_PATH", "GIT_ASKPASS"):
        env.pop(var, None)
    # Kept: inside a pre-commit hook, `git commit -a` and `git commit PATH` stage into a
    # temporary index that git names here; the staged scan must read that one. git gives it
    # relative to the work tree top, where hooks run; make it absolute for ``git -C``.
    index = env.get("GIT_INDEX_FILE")
    if index and not os.path.isabs(index):
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    return env


def git_binary() -> str:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git: not found on PATH (install git to scan repositories)")
    return exe


STORED_OBJECTS = "--no-replace-objects"
"""Put before ``cat-file``: objects as stored (and as pushed). A ``git replace`` ref must not
hide a blob from the scan, nor make git and the pack reader disagree about its bytes. Commit
walks keep following replace refs and grafts, as git users expect."""


def git_argv(repo: Path | str, args: Sequence[str]) -> list[str]:
    return [git_binary(), *SAFE_OPTIONS, "-C", os.fspath(repo), *args]


def run_git(
    repo: Path | str,
    args: Sequence[str],
    *,
    check: bool = True,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run git and capture its output; a failure is a :class:`GitError` naming the command."""
    try:
        proc = subprocess.run(
            git_argv(repo, args),
            input=input_bytes,
            capture_output=True,
            env=safe_env(),
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
        )
    except OSError as exc:
        raise GitError(f"git: cannot run: {exc}") from None
    if check and proc.returncode != 0:
        raise GitError(f"{repo}: git {args[0]} failed: {first_line(proc.stderr)}")
    return proc


def popen_git(
    repo: Path | str, args: Sequence[str], *, stdin: Any, stderr: Any, stdout: Any = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """Start git with piped stdout (for streaming; or ``stdout``, e.g. a file); failing to
    start is a GitError.

    A piped stdout is read through a 1 MB buffer (8 KB by default): many small blobs' headers
    and bodies come from one system call, 7% less CPU reading a history through ``cat-file
    --batch``. Only stdout: a writer thread feeding stdin must see each write reach git.
    """
    try:
        proc = subprocess.Popen(git_argv(repo, args), stdin=stdin, stdout=stdout, stderr=stderr, env=safe_env())
    except OSError as exc:
        raise GitError(f"git: cannot run: {exc}") from None
    if stdout is subprocess.PIPE:
        assert isinstance(proc.stdout, io.BufferedReader)
        proc.stdout = io.BufferedReader(proc.stdout.detach(), buffer_size=1 << 20)
    return proc


def first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("hint:"):
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return "unknown error"


def work_tree_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or None outside one (or without git)."""
    if shutil.which("git") is None:
        return None
    proc = run_git(path, ["rev-parse", "--show-toplevel"], check=False)
    if proc.returncode != 0:
        return None
    top = os.fsdecode(proc.stdout.rstrip(b"\n"))
    return Path(top) if top else None
