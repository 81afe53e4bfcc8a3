from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

# One compiled-database cache for the whole test session (compiling once costs ~1 s).
os.environ.setdefault("NHISCAN_CACHE_DIR", tempfile.mkdtemp(prefix="nhiscan-test-cache-"))
os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")

from nhiscan.cli.main import main  # noqa: E402
from nhiscan.engine.prefilter import hyperscan_available  # noqa: E402
from nhiscan.engine.scanner import Scanner  # noqa: E402
from nhiscan.rules import RuleSet, load_rules  # noqa: E402

BACKENDS = ["aho-corasick"] + (["hyperscan"] if hyperscan_available() else [])


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run ``nhiscan ARGS`` in-process (optionally in a folder) and capture its output."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return run


def run_subprocess(*args: str, cwd: Path | None = None, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nhiscan", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input_text,
        timeout=300,
    )


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="session", params=BACKENDS)
def scanner(request: pytest.FixtureRequest, ruleset: RuleSet) -> Scanner:
    return Scanner(ruleset, backend=request.param)


@pytest.fixture(scope="session")
def scanners(ruleset: RuleSet) -> dict[str, Scanner]:
    return {b: Scanner(ruleset, backend=b) for b in BACKENDS}  # type: ignore[arg-type]


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="Test Author", GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Author", GIT_COMMITTER_EMAIL="author@example.com",
        GIT_AUTHOR_DATE="2024-01-02T03:04:05+00:00", GIT_COMMITTER_DATE="2024-01-02T03:04:05+00:00",
    )
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def git_tree(tmp_path: Path) -> Iterator[Path]:
    """An empty git work tree."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test Author")
    git(repo, "config", "user.email", "author@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    yield repo


@pytest.fixture
def repo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A repository with one commit, built with tests.gitrepo.GitRepo."""
    from tests.gitrepo import GitRepo

    r = GitRepo(tmp_path / "repo")
    r.write("README.md", "# demo\n")
    r.commit("initial")
    return r
