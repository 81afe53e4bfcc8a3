"""Real git repositories in tmp dirs, with fixed identities and dates, and fake secrets.

Every secret here is generated at test time in the issuer's exact format (a GitHub classic
token has a valid CRC32 tail) and is random: never a real credential.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.tokens import generic_password, github_classic_pat  # noqa: F401 (re-exported)

AUTHOR = "Ada Builder"
AUTHOR_EMAIL = "ada@example.test"
COMMITTER = "Test Committer"
COMMITTER_EMAIL = "ci@example.test"
BASE_EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z


VENV_BIN = Path(sys.executable).parent
NHISCAN = str(VENV_BIN / "nhiscan")


# Fake credentials come from one place: tests/tokens.py.
github_token = github_classic_pat


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def git_env(epoch: int = BASE_EPOCH) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    date = f"@{epoch} +0000"
    env.update(
        GIT_AUTHOR_NAME=AUTHOR,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_NAME=COMMITTER,
        GIT_COMMITTER_EMAIL=COMMITTER_EMAIL,
        GIT_COMMITTER_DATE=date,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def run_git(cwd: Path, *args: str, input: bytes | None = None, epoch: int = BASE_EPOCH, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True, env=git_env(epoch)
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode("utf-8", "replace").strip()


class GitRepo:
    """A work tree (or bare repository) in a tmp dir; commits get dates one minute apart."""

    def __init__(self, path: Path, *, bare: bool = False, init: bool = True) -> None:
        self.path = path
        self.bare = bare
        self._tick = 0
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
            self.git("config", "user.name", AUTHOR)
            self.git("config", "user.email", AUTHOR_EMAIL)
            self.git("config", "commit.gpgsign", "false")
            self.git("config", "tag.gpgsign", "false")

    def epoch(self) -> int:
        return BASE_EPOCH + 60 * self._tick

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return run_git(self.path, *args, input=input, epoch=self.epoch(), check=check)

    def write(self, rel: str, content: str | bytes) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        return target

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def add(self, *paths: str) -> None:
        self.git("add", "-A", *(["--", *paths] if paths else []))

    def commit(self, message: str = "change", *, add: bool = True, allow_empty: bool = False) -> str:
        """Stage everything (unless add=False) and commit; returns the new commit's sha."""
        self._tick += 1
        if add:
            self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message, *(["--allow-empty"] if allow_empty else []))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)

    def merge(self, branch: str, message: str = "merge", *, no_commit: bool = False) -> None:
        self._tick += 1
        self.git("merge", "-q", "--no-ff", "-m", message, *(["--no-commit"] if no_commit else []), branch)

    def date(self, sha: str) -> str:
        return self.git("show", "-s", "--format=%aI", sha)


def make_repo(path: Path) -> GitRepo:
    return GitRepo(path)


def corrupt_loose_object(repo_path: Path, oid: str, *, git_dir: Path | None = None) -> None:
    """Overwrite a loose object's zlib stream with garbage after its first bytes."""
    objects = (git_dir or repo_path / ".git") / "objects"
    target = objects / oid[:2] / oid[2:]
    data = target.read_bytes()
    target.chmod(0o644)
    target.write_bytes(data[:2] + b"\xde\xad\xbe\xef" * 8 + data[34:])


def run_cli(args: list[str], capsys: Any, *, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``nhiscan`` in-process; returns (exit code, stdout, stderr)."""
    from nhiscan.cli.main import main

    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        capsys.readouterr()
        rc = main(args)
        out, err = capsys.readouterr()
    finally:
        os.chdir(old)
    return rc, out, err


def run_json(args: list[str], capsys: Any, *, cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
    rc, out, err = run_cli([args[0], "--format", "json", *args[1:]], capsys, cwd=cwd)
    assert out, f"no report on stdout (rc={rc}): {err}"
    return rc, json.loads(out), err


def findings_for(report: dict[str, Any], secret: str) -> list[dict[str, Any]]:
    digest = sha256(secret)
    return [f for f in report["findings"] if f["secret_sha256"] == digest]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("nhiscan: error")]


def copy_project(dest: Path) -> Path:
    """A copy of this checkout's tracked and new files (no .git, venv or caches)."""
    root = Path(__file__).resolve().parent.parent
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache",
        ".corpus", ".results", "*.egg-info", ".hypothesis", "build", "dist",
    )
    shutil.copytree(root, dest, ignore=ignore)
    return dest
