"""Large inputs and a bare environment: many refs, many files, no git on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import git
from tests.tokens import generic_password


def test_repository_with_thousands_of_refs(cli, git_tree: Path) -> None:
    (git_tree / "a.py").write_text(f'password = "{generic_password()}"\n')
    git(git_tree, "add", "a.py")
    git(git_tree, "commit", "-qm", "one")
    head = git(git_tree, "rev-parse", "HEAD").strip()
    with open(git_tree / ".git/packed-refs", "a") as fh:
        for i in range(20000):
            fh.write(f"{head} refs/tags/release-{i:05d}\n")
    r = cli("git", str(git_tree), "--format", "json")
    assert r.code == 1, r.err
    assert len(json.loads(r.out)["findings"]) == 1


def test_without_git_on_path(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(f'password = "{generic_password()}"\n')
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    scan = subprocess.run([sys.executable, "-m", "nhiscan", "scan", str(tmp_path), "-q"], capture_output=True, text=True, env=env)
    assert scan.returncode == 1, scan.stderr  # folders are walked without git
    hist = subprocess.run([sys.executable, "-m", "nhiscan", "git", str(tmp_path)], capture_output=True, text=True, env=env)
    assert hist.returncode == 2
    assert hist.stderr.count("\n") == 1 and "git" in hist.stderr and "Traceback" not in hist.stderr


def test_a_hundred_thousand_tiny_files_in_bounded_memory(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for d in range(100):
        sub = tree / f"d{d:03d}"
        sub.mkdir(parents=True)
        for f in range(1000):
            (sub / f"f{f:04d}.txt").write_bytes(b"x = 1\n")
    (tree / "d000" / "secret.py").write_text(f'token = "{generic_password()}"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "nhiscan", "scan", str(tree), "--format", "json", "-o", str(tmp_path / "r.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["stats"]["files"] == 100001 and len(doc["findings"]) == 1
    assert usage.ru_maxrss < 400 * 1024, f"peak RSS {usage.ru_maxrss // 1024} MB"
