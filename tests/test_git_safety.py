"""A hostile repository's config must not make nhiscan run its commands or misread its output."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.gitrepo import GitRepo, findings_for, git_env, github_token, run_json

# Config keys that make git run a command, each pointing at a script that leaves a marker.
COMMAND_KEYS = (
    "core.fsmonitor",
    "diff.external",
    "diff.evil.textconv",
    "diff.evil.command",
    "filter.evil.clean",
    "filter.evil.smudge",
    "filter.evil.process",
    "core.pager",
    "pager.log",
    "pager.diff",
    "core.sshCommand",
    "credential.helper",
    "gpg.program",
    "core.alternateRefsCommand",
)

# Config that would change the shape of what we parse if we did not pin it.
SHAPE_KEYS = {
    "diff.noprefix": "true",
    "diff.mnemonicPrefix": "true",
    "diff.relative": "true",
    "diff.submodule": "log",
    "diff.context": "9",
    "diff.renames": "copies",
    "color.ui": "always",
    "color.diff": "always",
    "log.showRoot": "false",
    "log.showSignature": "true",
    "core.quotePath": "false",
    "log.decorate": "full",
    "format.pretty": "oneline",
    "log.abbrevCommit": "true",
    "core.abbrev": "7",
    "diff.orderFile": "order.txt",
}


def _hostile(repo: GitRepo, tmp_path: Path) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir()
    for key in COMMAND_KEYS:
        script = tmp_path / f"run-{key.replace('.', '-')}.sh"
        script.write_text(f"#!/bin/sh\ntouch '{markers / key}'\nexit 0\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        repo.git("config", key, str(script))
    for key, value in SHAPE_KEYS.items():
        repo.git("config", key, value)
    hooks = repo.path / ".git" / "hooks"
    for name in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch '{markers / ('hook-' + name)}'\n")
        hook.chmod(0o755)
    return markers


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[GitRepo, Path, str, str]:
    repo = GitRepo(tmp_path / "repo")
    repo.write(".gitattributes", "* diff=evil filter=evil\n")
    repo.write("base.txt", "base\n")
    repo.commit("base")
    base = repo.head()
    token = github_token()
    repo.write("sub dir/secret.env", "x=1\n" + f"TOKEN={token}\n")
    repo.commit("secret")
    markers = _hostile(repo, tmp_path)
    # Something staged and something modified in the work tree, so that every code path
    # that could consult the index, the work tree or a diff driver has a reason to.
    staged = github_token()
    repo.write("staged.env", f"TOKEN={staged}\n")
    repo.git("-c", "filter.evil.clean=cat", "-c", "filter.evil.process=", "add", "staged.env")
    repo.write("base.txt", "base, modified\n")
    for marker in markers.iterdir():  # left by the set-up's own `git add`
        marker.unlink()
    return repo, markers, token, base


def test_hostile_config_runs_nothing(hostile: tuple[GitRepo, Path, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    repo, markers, token, base = hostile
    rc, report, err = run_json(["git", str(repo.path)], capsys)
    assert rc == 1, err
    [f] = findings_for(report, token)
    assert f["path"] == "sub dir/secret.env" and f["line"] == 2

    rc, report, err = run_json(["git", str(repo.path), "--range", f"{base}..HEAD"], capsys)
    assert rc == 1, err
    [f] = findings_for(report, token)
    assert (f["path"], f["line"]) == ("sub dir/secret.env", 2)

    rc, report, err = run_json(["scan", "--staged", str(repo.path)], capsys)
    assert rc == 1, err
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("staged.env", 1)]

    rc, report, err = run_json(["scan", str(repo.path)], capsys)
    assert rc == 1, err

    assert sorted(p.name for p in markers.iterdir()) == []


def test_the_hostile_config_is_live(hostile: tuple[GitRepo, Path, str, str]) -> None:
    """Control: plain git in the same repository does run the planted commands."""
    repo, markers, _, _ = hostile
    env = git_env()
    subprocess.run(["git", "status"], cwd=repo.path, capture_output=True, env=env, timeout=60)
    no_filter = ["-c", "filter.evil.process=", "-c", "filter.evil.clean=", "-c", "filter.evil.smudge=", "-c", "diff.orderFile=/dev/null"]
    subprocess.run(["git", *no_filter, "diff", "HEAD"], cwd=repo.path, capture_output=True, env=env, timeout=60)
    subprocess.run(
        ["git", *no_filter, "-c", "diff.external=", "log", "-p", "-1"],
        cwd=repo.path, capture_output=True, env=env, timeout=60,
    )
    fired = {p.name for p in markers.iterdir()}
    assert "core.fsmonitor" in fired
    assert "diff.external" in fired or "diff.evil.command" in fired
    assert "diff.evil.textconv" in fired
