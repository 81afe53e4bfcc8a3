"""The hooks of `.pre-commit-hooks.yaml`, run by the real pre-commit framework in tmp repos."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitrepo import VENV_BIN, GitRepo, copy_project, git_env, github_token, run_git

PROJECT = Path(__file__).resolve().parent.parent
HOOKS_FILE = PROJECT / ".pre-commit-hooks.yaml"
PRE_COMMIT = VENV_BIN / "pre-commit"

pytestmark = pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed in this environment")


def hook_definitions() -> dict[str, dict[str, Any]]:
    hooks = yaml.safe_load(HOOKS_FILE.read_text())
    return {h["id"]: h for h in hooks}


def env_for(repo: GitRepo, home: Path) -> dict[str, str]:
    env = git_env(repo.epoch())
    env["PRE_COMMIT_HOME"] = str(home)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PRE_COMMIT_FROM_REF", None)
    env.pop("PRE_COMMIT_TO_REF", None)
    return env


def git_cmd(repo: GitRepo, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    repo._tick += 1
    return subprocess.run(
        ["git", *args], cwd=repo.path, capture_output=True, text=True, env=env_for(repo, home), timeout=600
    )


def local_config() -> str:
    """The shipped hook definitions as `repo: local` hooks run from this environment."""
    hooks = []
    for hid, h in hook_definitions().items():
        local = {k: v for k, v in h.items() if k not in ("minimum_pre_commit_version",)}
        local["language"] = "system"
        hooks.append(local)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


@pytest.fixture
def hooked(tmp_path: Path) -> tuple[GitRepo, Path]:
    repo = GitRepo(tmp_path / "project")
    home = tmp_path / "pre-commit-home"
    repo.write(".pre-commit-config.yaml", local_config())
    repo.write("README.md", "# project\n")
    repo.commit("initial")
    proc = subprocess.run(
        [str(PRE_COMMIT), "install", "--hook-type", "pre-commit", "--hook-type", "pre-push"],
        cwd=repo.path, capture_output=True, text=True, env=env_for(repo, home),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo, home


def test_hook_definitions_are_what_the_contract_says() -> None:
    hooks = hook_definitions()
    assert hooks["nhiscan"]["stages"] == ["pre-commit"]
    assert hooks["nhiscan"]["pass_filenames"] is False
    assert hooks["nhiscan"]["entry"] == "nhiscan scan --staged"
    assert hooks["nhiscan-push"]["stages"] == ["pre-push"]
    assert "PRE_COMMIT_FROM_REF" in hooks["nhiscan-push"]["entry"]
    assert all(h["language"] == "python" for h in hooks.values())


def test_commit_with_a_staged_token_is_blocked(hooked: tuple[GitRepo, Path]) -> None:
    repo, home = hooked
    token = github_token()
    repo.write("src/settings.py", f"DEBUG = False\nGITHUB_TOKEN = '{token}'\n")
    repo.add()
    proc = git_cmd(repo, home, "commit", "-m", "add settings")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "src/settings.py:2:17" in output
    assert token not in output
    assert "ghp_" in output  # the redacted preview names the kind
    assert repo.git("rev-list", "--count", "HEAD") == "1"


def test_clean_commit_passes(hooked: tuple[GitRepo, Path]) -> None:
    repo, home = hooked
    repo.write("src/app.py", "import os\nTOKEN = os.environ['GITHUB_TOKEN']\n")
    repo.add()
    proc = git_cmd(repo, home, "commit", "-m", "clean")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert repo.git("rev-list", "--count", "HEAD") == "2"


def test_push_of_commits_adding_a_token_is_blocked(hooked: tuple[GitRepo, Path], tmp_path: Path) -> None:
    repo, home = hooked
    remote = GitRepo(tmp_path / "remote.git", bare=True)
    repo.git("remote", "add", "origin", str(remote.path))
    # First push of a branch reaching a root commit: pre-commit passes no range.
    proc = git_cmd(repo, home, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    token = github_token()
    repo.write("deploy.env", f"TOKEN={token}\n")
    repo.git("add", "-A")
    git_cmd(repo, home, "commit", "-q", "--no-verify", "-m", "bypass the commit hook")
    repo.write("deploy.env", "TOKEN=\n")
    repo.git("add", "-A")
    git_cmd(repo, home, "commit", "-q", "--no-verify", "-m", "remove it again")
    proc = git_cmd(repo, home, "push", "-q", "origin", "main")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "deploy.env:1:7" in output and token not in output
    assert remote.git("rev-list", "--count", "main") == "1"

    # Rewrite the branch without the token: the push goes through.
    repo.git("reset", "-q", "--hard", "origin/main")
    repo.write("app.txt", "fine\n")
    repo.git("add", "-A")
    git_cmd(repo, home, "commit", "-q", "--no-verify", "-m", "fine")
    proc = git_cmd(repo, home, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_first_push_with_a_token_in_history_is_blocked(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "project")
    home = tmp_path / "pre-commit-home"
    repo.write(".pre-commit-config.yaml", local_config())
    token = github_token()
    repo.write("old.env", f"TOKEN={token}\n")
    repo.commit("initial, with a token")
    subprocess.run([str(PRE_COMMIT), "install", "--hook-type", "pre-push"], cwd=repo.path, check=True,
                   capture_output=True, env=env_for(repo, home))
    remote = GitRepo(tmp_path / "remote.git", bare=True)
    repo.git("remote", "add", "origin", str(remote.path))
    proc = git_cmd(repo, home, "push", "-q", "origin", "main")
    assert proc.returncode != 0
    assert "old.env:1:7" in proc.stdout + proc.stderr


def test_real_hook_from_a_committed_copy_of_the_project(tmp_path: Path) -> None:
    """`repo:` pointing at a git copy of this project at a commit, `language: python`."""
    hook_repo = tmp_path / "nhiscan-src"
    copy_project(hook_repo)
    run_git(hook_repo, "init", "-q", "-b", "main")
    run_git(hook_repo, "add", "-A")
    run_git(hook_repo, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "snapshot")
    rev = run_git(hook_repo, "rev-parse", "HEAD")

    repo = GitRepo(tmp_path / "project")
    home = tmp_path / "pre-commit-home"
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "nhiscan"}]}]}
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config))
    repo.commit("config")
    env = env_for(repo, home)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if Path(p).resolve() != VENV_BIN.resolve()
    )
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    inst = subprocess.run(
        [str(PRE_COMMIT), "install-hooks"], cwd=repo.path, capture_output=True, text=True, env=env, timeout=900
    )
    if inst.returncode != 0:
        tail = " | ".join((inst.stdout + inst.stderr).strip().splitlines()[-3:])
        pytest.skip(f"pre-commit could not install the hook's Python environment (offline?): {tail}")
    subprocess.run([str(PRE_COMMIT), "install"], cwd=repo.path, check=True, capture_output=True, env=env)

    token = github_token()
    repo.write("leak.py", f"TOKEN = '{token}'\n")
    repo.add()
    repo._tick += 1
    proc = subprocess.run(["git", "commit", "-m", "leak"], cwd=repo.path, capture_output=True, text=True, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "leak.py:1:10" in output and token not in output

    repo.git("reset", "-q", "HEAD", "leak.py")
    (repo.path / "leak.py").unlink()
    repo.write("ok.py", "x = 1\n")
    repo.add()
    proc = subprocess.run(["git", "commit", "-m", "ok"], cwd=repo.path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
