"""Config globs are relative to the repository root, whatever folder is scanned."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tokens import generic_password


def test_allow_globs_are_relative_to_the_repository_root(cli, git_tree: Path) -> None:
    (git_tree / ".nhiscan.toml").write_text('[[allow]]\npaths = ["app/fixtures/**"]\n')
    (git_tree / "app/fixtures").mkdir(parents=True)
    (git_tree / "app/fixtures/creds.py").write_text(f'password = "{generic_password()}"\n')
    (git_tree / "app/real.py").write_text(f'password = "{generic_password()}"\n')
    for target in (git_tree, git_tree / "app"):
        doc = json.loads(cli("scan", str(target), "--format", "json").out)
        assert [Path(f["path"]).name for f in doc["findings"]] == ["real.py"], target


def test_an_outer_repositorys_allow_entries_do_not_hide_a_nested_tree(cli, git_tree: Path) -> None:
    """A vendored or downloaded tree under the repository is not covered by globs meant for
    the repository's own top-level folders."""
    (git_tree / ".nhiscan.toml").write_text('[[allow]]\npaths = ["tests/**"]\n')
    nested = git_tree / "vendor/other-project"
    (nested / "tests").mkdir(parents=True)
    (nested / "tests/settings.py").write_text(f'SECRET_TOKEN = "{generic_password()}"\n')
    doc = json.loads(cli("scan", str(nested), "--no-ignore", "--format", "json").out)
    assert [f["path"] for f in doc["findings"]] == ["tests/settings.py"]
