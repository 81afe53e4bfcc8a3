"""Config files, allow entries, custom rules, baselines: adopting nhiscan in a repo with history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.tokens import generic_password, rand


def plant(folder: Path, name: str) -> str:
    pw = generic_password()
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'password = "{pw}"\n')
    return pw


@pytest.mark.parametrize(
    "body, expected",
    [
        ("[rules\n", "invalid TOML"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[rules]\ndisable = 'generic-credential'\n", "'rules.disable' has the wrong type"),
        ("[rules]\nenable = []\n", "unknown key 'rules.enable'"),
        ("[[allow]]\nrules = ['x']\n", "needs at least one of paths, regexes, stopwords"),
        ("[[allow]]\nregexes = ['(']\n", "does not compile"),
        ("[scan]\nmax_file_size = 'huge'\n", "scan.max_file_size"),
        ("[rules]\ndisable = ['no-such-rule']\n", "no-such-rule"),
        ("[rules]\nextend = ['missing.toml']\n", "missing.toml"),
    ],
)
def test_broken_config_is_exit_2_naming_the_file(cli, tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / ".nhiscan.toml").write_text(body)
    r = cli("scan", str(tmp_path))
    assert r.code == 2
    assert expected in r.err
    assert r.err.count("\n") == 1
    if "no-such-rule" not in expected:
        assert ".nhiscan.toml" in r.err or "missing.toml" in r.err


def test_pyproject_tool_table(cli, tmp_path: Path) -> None:
    plant(tmp_path, "fixtures/a.py")
    (tmp_path / "pyproject.toml").write_text('[tool.nhiscan]\n[[tool.nhiscan.allow]]\npaths = ["fixtures/**"]\n')
    assert cli("scan", str(tmp_path)).code == 0


def test_allow_entries(cli, tmp_path: Path) -> None:
    plant(tmp_path, "tests/fixtures/creds.py")
    pw = generic_password()
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text(f'password = "{pw}QQZZ"\n')
    plant(tmp_path, "src/real.py")
    (tmp_path / ".nhiscan.toml").write_text(
        '[[allow]]\npaths = ["tests/fixtures/**"]\n\n'
        '[[allow]]\nstopwords = ["qqzz"]\nrules = ["generic-credential"]\n'
    )
    doc = json.loads(cli("scan", str(tmp_path), "--format", "json").out)
    assert [f["path"] for f in doc["findings"]] == ["src/real.py"]
    assert doc["stats"]["allowed"] == 2


def test_allow_entry_limited_to_other_rules_does_not_apply(cli, tmp_path: Path) -> None:
    plant(tmp_path, "a.py")
    (tmp_path / ".nhiscan.toml").write_text('[[allow]]\npaths = ["*.py"]\nrules = ["github-pat-classic"]\n')
    assert cli("scan", str(tmp_path)).code == 1


def test_disable_rule(cli, tmp_path: Path) -> None:
    plant(tmp_path, "a.py")
    (tmp_path / ".nhiscan.toml").write_text('[rules]\ndisable = ["generic-credential"]\n')
    assert cli("scan", str(tmp_path)).code == 0


CUSTOM = '''
[[rule]]
id = "acme-internal-token"
name = "Acme internal service token"
provider = "Acme"
nhi_kind = "saas-api-key"
severity = "high"
keywords = ["acmetok_"]
regex = '\\b(acmetok_[a-z0-9]{24})\\b'
min_entropy = 3.0
examples = ["ACME = 'acmetok_8f3kq0z7m2x9c4v1b6n5l8p3'"]
negative_examples = ["acmetok_short"]
'''


def test_custom_rule_pack_from_config(cli, tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci/our-rules.toml").write_text(CUSTOM)
    (tmp_path / ".nhiscan.toml").write_text('[rules]\nextend = ["ci/our-rules.toml"]\n[[allow]]\npaths = ["ci/**"]\n')
    token = "acmetok_" + rand(24, "abcdefghijklmnopqrstuvwxyz0123456789")
    (tmp_path / "svc.py").write_text(f"TOKEN = '{token}'\n")
    doc = json.loads(cli("scan", str(tmp_path), "--format", "json").out)
    assert [f["rule_id"] for f in doc["findings"]] == ["acme-internal-token"]
    r = cli("rules", "test", "--config", str(tmp_path / ".nhiscan.toml"), str(tmp_path / "ci/our-rules.toml"))
    assert r.code == 0 and "1 rules, 2 examples: 2 passed, 0 failed" in r.out
    r = cli("rules", "list", "--config", str(tmp_path / ".nhiscan.toml"))
    assert "acme-internal-token" in r.out


def test_rules_test_reports_failing_examples(cli, tmp_path: Path) -> None:
    pack = tmp_path / "bad.toml"
    pack.write_text(CUSTOM.replace("acmetok_8f3kq0z7m2x9c4v1b6n5l8p3", "acmetok_tooshort"))
    r = cli("rules", "test", str(pack))
    assert r.code == 1 and "FAIL" in r.out and "acme-internal-token" in r.out


def test_baseline_then_only_new_secrets_fail(cli, git_tree: Path) -> None:
    old = plant(git_tree, "app/settings.py")
    base = git_tree / ".nhiscan-baseline.json"
    r = cli("baseline", str(git_tree), "-o", str(base))
    assert r.code == 0, r.err
    text = base.read_text()
    assert old not in text
    doc = json.loads(text)
    assert doc["version"] == 1 and len(doc["findings"]) == 1
    assert cli("scan", str(git_tree), "--baseline", str(base)).code == 0
    # The old secret moves lines and the file is reformatted: still baselined.
    (git_tree / "app/settings.py").write_text(f'\n\n# moved\nconfig = dict(\n    password  =  "{old}",\n)\n')
    assert cli("scan", str(git_tree), "--baseline", str(base)).code == 0
    # A new secret fails.
    plant(git_tree, "app/new.py")
    r = cli("scan", str(git_tree), "--baseline", str(base), "--format", "json")
    assert r.code == 1
    assert [f["path"] for f in json.loads(r.out)["findings"]] == ["app/new.py"]


def test_baseline_is_stable_and_reports_unused(cli, tmp_path: Path) -> None:
    plant(tmp_path, "a.py")
    plant(tmp_path, "b.py")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    cli("baseline", str(tmp_path), "-o", str(one))
    cli("baseline", str(tmp_path), "-o", str(two))
    assert one.read_text() == two.read_text()
    (tmp_path / "b.py").unlink()
    r = cli("scan", str(tmp_path), "--baseline", str(one), "--report-unused")
    assert r.code == 0 and "no longer matches" in r.err and "b.py" in r.err


def test_bad_baseline_file(cli, tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("{not json")
    r = cli("scan", str(tmp_path), "--baseline", str(tmp_path / "b.json"))
    assert r.code == 2 and "b.json" in r.err


@pytest.mark.parametrize("threshold, code", [("low", 1), ("medium", 1), ("high", 0), ("critical", 0)])
def test_fail_on_threshold(cli, tmp_path: Path, threshold: str, code: int) -> None:
    plant(tmp_path, "a.py")  # the generic rule is severity medium
    assert cli("scan", str(tmp_path), "--fail-on", threshold).code == code


def test_exclude_applies_with_the_process_pool(cli, tmp_path: Path, monkeypatch) -> None:
    from nhiscan import scan as scan_module

    monkeypatch.setattr(scan_module, "_PARALLEL_MIN_BYTES", 0)  # force the pool
    plant(tmp_path, "vendor/lib.py")
    plant(tmp_path, "src/app.py")
    (tmp_path / ".nhiscan.toml").write_text('[scan]\nexclude = ["vendor/**"]\n')
    doc = json.loads(cli("scan", str(tmp_path), "--format", "json", "--jobs", "2").out)
    assert [f["path"] for f in doc["findings"]] == ["src/app.py"]
    assert doc["stats"]["skipped"].get("excluded") == 1
