"""Defects found by a review, each reproduced as a user would meet it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from nhiscan.rules import load_rules
from tests.conftest import git
from tests.tokens import generic_password, github_classic_pat


def test_commit_dash_a_cannot_bypass_the_hook(git_tree: Path) -> None:
    """`git commit -a` stages into a temporary index named by GIT_INDEX_FILE: scan that one."""
    (git_tree / "a.py").write_text("x = 1\n")
    git(git_tree, "add", "a.py")
    git(git_tree, "commit", "-qm", "init")
    exe = Path(sys.executable).parent / "nhiscan"
    hook = git_tree / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {exe} scan --staged -q\n")
    hook.chmod(0o755)
    (git_tree / "a.py").write_text(f'x = 1\ntoken = "{github_classic_pat()}"\n')
    for args in (["commit", "-qam", "sneak"], ["commit", "-qm", "sneak", "a.py"]):
        proc = subprocess.run(["git", "-C", str(git_tree), *args], capture_output=True, text=True)
        assert proc.returncode != 0, proc.stdout + proc.stderr
    log = subprocess.run(["git", "-C", str(git_tree), "log", "--oneline"], capture_output=True, text=True).stdout
    assert "sneak" not in log


def test_public_half_of_a_key_pair_is_redacted(cli, tmp_path: Path) -> None:
    rules = [r for r in load_rules().rules if r.public_group is not None]
    for rule in rules:
        for i, example in enumerate(rule.examples):
            (tmp_path / f"{rule.id}-{i}.txt").write_text(example + "\n")
    for fmt in ("json", "sarif"):
        r = cli("scan", str(tmp_path), "--format", fmt, "--no-ignore")
        raw_ids = []
        for rule in rules:
            import regex

            for example in rule.examples:
                m = regex.search(rule.regex.encode(), example.encode())
                if m and m.group(rule.public_group) and b"@" not in m.group(rule.public_group):
                    raw_ids.append(m.group(rule.public_group).decode())
        assert raw_ids, "no rule with a non-email public id to check"
        leaked = [p for p in raw_ids if p in r.out]
        assert not leaked, f"{fmt}: raw key ids in output: {leaked[:3]}"


def test_generic_preview_shows_no_character_of_the_value(cli, tmp_path: Path) -> None:
    value = "pass" + generic_password()
    (tmp_path / "a.env").write_text(f"DB_PASSWORD={value}\n")
    doc = json.loads(cli("scan", str(tmp_path), "--format", "json").out)
    (f,) = doc["findings"]
    assert f["secret"].startswith("…(")


def test_regex_timeout_is_not_a_clean_exit(cli, tmp_path: Path) -> None:
    (tmp_path / ".nhiscan.toml").write_text("[scan]\nregex_timeout = 0.000001\n")
    (tmp_path / "c.py").write_text("\n".join(f'DB_PASSWORD_{i} = "{generic_password()}"' for i in range(200)) + "\n")
    r = cli("scan", str(tmp_path), "--format", "json")
    if json.loads(r.out)["stats"]["timeouts"] == 0:
        pytest.skip("no regex call exceeded even a microsecond here")
    assert r.code == 2 and "time bound" in r.err


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs setpriv and root to drop DAC override")
def test_unreadable_untracked_folder_is_an_error(git_tree: Path) -> None:
    (git_tree / "ok.py").write_text("x = 1\n")
    priv = git_tree / "priv"
    priv.mkdir()
    (priv / "s.py").write_text(f'token = "{github_classic_pat()}"\n')
    priv.chmod(0)
    try:
        proc = subprocess.run(
            ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search",
             "--", sys.executable, "-m", "nhiscan", "scan", str(git_tree)],
            capture_output=True, text=True,
        )
    finally:
        priv.chmod(0o755)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "priv" in proc.stderr


def test_named_symlink_to_a_file_is_scanned(cli, tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text(f'password = "{generic_password()}"\n')
    (tmp_path / "inlink").symlink_to(tmp_path / "s.txt")
    r = cli("scan", str(tmp_path / "inlink"), "--format", "json")
    assert r.code == 1 and len(json.loads(r.out)["findings"]) == 1


def test_paths_stay_relative_through_a_symlinked_folder(cli, tmp_path: Path) -> None:
    real = tmp_path / "outside"
    real.mkdir()
    (real / "s.txt").write_text(f'password = "{generic_password()}"\n')
    (tmp_path / "lk").symlink_to(real)
    doc = json.loads(cli("scan", str(tmp_path / "lk"), "--format", "json").out)
    assert [f["path"] for f in doc["findings"]] == ["s.txt"]


def test_a_named_ignored_folder_is_scanned(cli, git_tree: Path) -> None:
    (git_tree / ".gitignore").write_text("build/\n")
    (git_tree / "build").mkdir()
    (git_tree / "build/out.js").write_text(f'var password = "{generic_password()}";\n')
    assert cli("scan", str(git_tree)).code == 0
    assert cli("scan", str(git_tree / "build")).code == 1


def test_corrupt_commit_still_writes_the_report(cli, git_tree: Path, tmp_path: Path) -> None:
    (git_tree / "a.py").write_text(f'password = "{generic_password()}"\n')
    git(git_tree, "add", "a.py")
    git(git_tree, "commit", "-qm", "one")
    (git_tree / "b.py").write_text("y = 2\n")
    git(git_tree, "add", "b.py")
    git(git_tree, "commit", "-qm", "two")
    head = git(git_tree, "rev-parse", "HEAD~1").strip()
    obj = git_tree / ".git/objects" / head[:2] / head[2:]
    obj.chmod(0o644)
    obj.write_bytes(zlib.compress(b"commit 5\0junk!")[:-3])
    out = tmp_path / "r.json"
    r = cli("git", str(git_tree), "--format", "json", "-o", str(out))
    assert r.code == 2
    assert r.err.strip() and "Traceback" not in r.err
    doc = json.loads(out.read_text())
    assert doc["findings"] and doc["errors"]


def test_baseline_of_the_wrong_shape_names_the_file(cli, tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text('"x"')
    r = cli("scan", str(tmp_path), "--baseline", str(tmp_path / "b.json"))
    assert r.code == 2 and "b.json" in r.err and r.err.count("\n") == 1


def test_unknown_disabled_rule_names_the_config_file(cli, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[rules]\ndisable = ["nonexistent-rule"]\n')
    r = cli("scan", str(tmp_path), "--config", str(tmp_path / "bad.toml"))
    assert r.code == 2 and "bad.toml" in r.err and "nonexistent-rule" in r.err


def test_blob_tagged_directly_is_reported(cli, git_tree: Path) -> None:
    (git_tree / "a.py").write_text("x = 1\n")
    git(git_tree, "add", "a.py")
    git(git_tree, "commit", "-qm", "one")
    blob_file = git_tree.parent / "loose.txt"
    blob_file.write_text(f'password = "{generic_password()}"\n')
    oid = git(git_tree, "hash-object", "-w", str(blob_file)).strip()
    git(git_tree, "tag", "blobtag", oid)
    doc = json.loads(cli("git", str(git_tree), "--format", "json").out)
    assert [f["path"] for f in doc["findings"]] == ["refs/tags/blobtag"]


def test_corrupt_blob_in_a_range_still_writes_the_report(cli, git_tree: Path, tmp_path: Path) -> None:
    (git_tree / "a.py").write_text("x = 1\n")
    git(git_tree, "add", "a.py")
    git(git_tree, "commit", "-qm", "base")
    (git_tree / "b.py").write_text(f'password = "{generic_password()}"\n')
    git(git_tree, "add", "b.py")
    git(git_tree, "commit", "-qm", "adds a secret")
    (git_tree / "c.py").write_text("z = 3\n" * 50)
    git(git_tree, "add", "c.py")
    git(git_tree, "commit", "-qm", "adds c")
    oid = git(git_tree, "rev-parse", "HEAD:c.py").strip()
    obj = git_tree / ".git/objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"\x78\x9cgarbage")
    out = tmp_path / "r.json"
    r = cli("git", str(git_tree), "--range", "HEAD~2..HEAD", "--format", "json", "-o", str(out))
    assert r.code == 2 and "Traceback" not in r.err
    doc = json.loads(out.read_text())
    assert [f["path"] for f in doc["findings"]] == ["b.py"] and doc["errors"]
