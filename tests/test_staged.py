"""`nhiscan scan --staged`: what the next commit adds, with the staged version's line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import (
    GitRepo,
    error_lines,
    findings_for,
    generic_password,
    github_token,
    run_cli,
    run_json,
)


def staged(repo: GitRepo, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    return run_json(["scan", "--staged", str(repo.path), *extra], capsys)


def test_only_added_lines_with_staged_line_numbers(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = github_token(), github_token()
    repo.write("settings.py", f"A = 1\nOLD_TOKEN = '{old}'\nB = 2\n")
    repo.commit("existing secret")
    repo.write("settings.py", f"A = 1\nOLD_TOKEN = '{old}'\nB = 2\nC = 3\nNEW_TOKEN = '{new}'\n")
    repo.add()
    rc, report, err = staged(repo, capsys)
    assert rc == 1, err
    assert report["source"] == "staged"
    [f] = report["findings"]
    assert f["secret_sha256"] == findings_for(report, new)[0]["secret_sha256"]
    assert (f["path"], f["line"], f["column"]) == ("settings.py", 5, 14)
    assert f["commit"] is None
    assert not findings_for(report, old)


def test_new_file_is_scanned_whole(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = github_token(), generic_password()
    repo.write("conf/new.env", f"TOKEN={a}\n\n\nDB_PASSWORD = \"{b}\"\n")
    repo.add()
    rc, report, _ = staged(repo, capsys)
    assert rc == 1
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("conf/new.env", 1), ("conf/new.env", 4)]


def test_unstaged_changes_are_not_scanned(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("README.md", f"# demo\ntoken={token}\n")  # in the work tree only
    repo.write("clean.txt", "nothing to see\n")
    repo.add("clean.txt")
    rc, report, _ = staged(repo, capsys)
    assert rc == 0 and report["findings"] == []


def test_staged_content_wins_over_work_tree(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("app.env", f"TOKEN={token}\n")
    repo.add()
    repo.write("app.env", "TOKEN=\n")  # fixed in the work tree but not staged
    rc, report, _ = staged(repo, capsys)
    assert rc == 1 and findings_for(report, token)


def test_nothing_staged_and_deletions_pass(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    rc, report, _ = staged(repo, capsys)
    assert rc == 0 and report["findings"] == []
    token = github_token()
    repo.write("old.env", f"TOKEN={token}\n")
    repo.commit("old")
    repo.git("rm", "-q", "old.env")
    rc, report, _ = staged(repo, capsys)
    assert rc == 0 and report["findings"] == []


def test_unborn_branch_first_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "fresh")
    token = github_token()
    repo.write("first.py", f"x = 1\nTOKEN = '{token}'\n")
    repo.add()
    rc, report, err = staged(repo, capsys)
    assert rc == 1, err
    [f] = findings_for(report, token)
    assert (f["path"], f["line"]) == ("first.py", 2)


def test_renamed_file_with_old_secret_is_not_reported(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("a/config.py", "# config\n" * 5 + f"TOKEN = '{token}'\n")
    repo.commit("config")
    (repo.path / "b").mkdir()
    repo.git("mv", "a/config.py", "b/config.py")
    rc, report, _ = staged(repo, capsys)
    assert rc == 0 and report["findings"] == []


def test_next_line_directive_on_an_unchanged_line_is_honoured(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("fixture.py", "# pragma: allowlist nextline secret\nTOKEN = 'placeholder'\n")
    repo.commit("fixture")
    token = github_token()
    repo.write("fixture.py", f"# pragma: allowlist nextline secret\nTOKEN = '{token}'\n")
    repo.add()
    rc, report, _ = staged(repo, capsys)
    assert rc == 0 and report["findings"] == []


def test_binary_and_submodule_are_skipped(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = GitRepo(tmp_path / "sub")
    sub.write("x.txt", "x\n")
    sub_head = sub.commit("x")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub_head},vendor/sub")
    repo.write("image.bin", b"\x00\x01" + f"token={github_token()}".encode())
    repo.add("image.bin")
    rc, report, err = staged(repo, capsys)
    assert rc == 0, err
    assert report["findings"] == []
    assert report["stats"]["skipped"].get("binary") == 1
    assert report["stats"]["skipped"].get("submodule") == 1
    assert not error_lines(err)


def test_path_with_spaces_and_config_allow(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("my dir/sp ace.env", f"TOKEN={token}\n")
    repo.write("tests/fixtures/fake.env", f"TOKEN={github_token()}\n")
    repo.write(".nhiscan.toml", '[[allow]]\npaths = ["tests/fixtures/**"]\n')
    repo.add()
    rc, report, _ = staged(repo, capsys)
    assert rc == 1
    assert [f["path"] for f in report["findings"]] == ["my dir/sp ace.env"]
    assert report["stats"]["allowed"] == 1


def test_from_a_subdirectory_paths_are_repo_relative(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("pkg/sub/mod.py", f"TOKEN = '{token}'\n")
    repo.add()
    rc, report, _ = run_json(["scan", "--staged"], capsys, cwd=repo.path / "pkg" / "sub")
    assert rc == 1
    assert [f["path"] for f in report["findings"]] == ["pkg/sub/mod.py"]


def test_bare_repository_and_missing_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = GitRepo(tmp_path / "b.git", bare=True)
    rc, _, err = run_cli(["scan", "--staged", str(bare.path)], capsys)
    assert rc == 2 and "bare repository" in err
    rc, _, err = run_cli(["scan", "--staged", str(tmp_path / "missing")], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "missing" in err


def test_text_output_names_file_and_line_and_redacts(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("deploy/ci.yml", f"env:\n  GH_TOKEN: {token}\n")
    repo.add()
    rc, out, _ = run_cli(["scan", "--staged", str(repo.path), "--no-color"], capsys)
    assert rc == 1
    assert "deploy/ci.yml:2:13" in out
    assert token not in out and "ghp_" in out


# Speed is measured side by side with the peers in benchmarks/precommit.py, not in timed tests.


def test_clean_hook_run_loads_no_heavy_module(repo: GitRepo) -> None:
    """A pre-commit run that finds nothing stays light: the ``regex`` engine, OpenSSL's hashlib,
    the TOML parser and the control mapping load only when a candidate, a config file or a
    finding needs them (each costs several milliseconds of the hook's budget)."""
    import json
    import subprocess
    import sys

    repo.write("app.py", "def f(x):\n    return x + 1\n")
    repo.add()
    probe = (
        "import sys\n"
        "from nhiscan.cli.main import main\n"
        "rc = main(['scan', '--staged', '-q', sys.argv[1]])\n"
        "print(__import__('json').dumps([rc, sorted(sys.modules)]))\n"
    )
    for _ in range(2):  # a first run may fill the rule and database caches (the session's)
        out = subprocess.run([sys.executable, "-c", probe, str(repo.path)], capture_output=True, text=True, check=True)
    rc, modules = json.loads(out.stdout.splitlines()[-1])
    assert rc == 0, out.stderr
    heavy = {"regex", "_hashlib", "tomllib", "nhiscan.mapping.controls", "multiprocessing", "concurrent.futures"}
    assert heavy.isdisjoint(modules), sorted(heavy & set(modules))
