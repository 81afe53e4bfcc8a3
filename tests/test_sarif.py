"""SARIF 2.1.0: valid against the official schema, and fit for GitHub code scanning.

Fake credentials are generated at test time; tests compare values and never print them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.tokens import generic_password

from nhiscan.config import Config
from nhiscan.engine.scanner import Scanner
from nhiscan.mapping.controls import load_mapping
from nhiscan.mapping.identity import make_finding
from nhiscan.model import CommitInfo, Confidence, Match, NhiKind, Rule, ScanReport, Severity, Stats
from nhiscan.reporters import RenderOptions, ScanFormat, renderer_for
from nhiscan.reporters.sarif import (
    CWE_TAXONOMY,
    ISO_TAXONOMY,
    MAX_RESULTS,
    MAX_TAGS,
    OWASP_TAXONOMY,
    build_sarif,
    render_sarif,
    rule_tags,
)
from nhiscan.rules import RuleSet
from nhiscan.scan import EngineOptions, scan_paths

# The official OASIS schema, kept beside the tests (also in ../shared/schemas/).
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())  # type: ignore[no-any-return]


fake_password = generic_password


def scan_dir(path: Path, ruleset: RuleSet) -> ScanReport:
    return scan_paths([str(path)], config=Config(), ruleset=ruleset, scanner=Scanner(ruleset, backend="aho-corasick"),
                      options=EngineOptions(backend="aho-corasick"), jobs=1)


def validate(doc: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


def check_github_constraints(doc: dict[str, Any]) -> None:
    """What GitHub code scanning needs, beyond the schema."""
    assert doc["version"] == "2.1.0" and len(doc["runs"]) <= 20
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) <= 25_000 and len(run["results"]) <= 25_000
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    taxonomies = {t["name"]: t for t in run["taxonomies"]}
    assert {ISO_TAXONOMY, CWE_TAXONOMY, OWASP_TAXONOMY} <= set(taxonomies)
    for r in rules:
        assert r["help"]["text"] and r["help"]["markdown"]
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        tags = r["properties"]["tags"]
        assert "security" in tags and len(tags) <= MAX_TAGS
        assert any(t.startswith("external/cwe/cwe-") for t in tags)
        sev = r["properties"]["security-severity"]
        assert isinstance(sev, str) and 0 < float(sev) <= 10
        assert r["properties"]["precision"] in ("very-high", "high", "medium", "low")
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
        for rel in r["relationships"]:
            comp = rel["target"]["toolComponent"]
            assert comp["name"] in taxonomies and comp["guid"] == taxonomies[comp["name"]]["guid"]
            taxa = taxonomies[comp["name"]]["taxa"]
            assert taxa[rel["target"]["index"]]["id"] == rel["target"]["id"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["partialFingerprints"]["primaryLocationLineHash"]
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "://" not in uri and "\\" not in uri
        assert loc["artifactLocation"]["uriBaseId"] == "SRCROOT"
        region = loc["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert region.get("endLine", region["startLine"]) >= region["startLine"]
        for t in res.get("taxa", []):
            comp = t["toolComponent"]
            assert comp["name"] in taxonomies and comp["guid"] == taxonomies[comp["name"]]["guid"]
    assert json.dumps(doc)  # serializable


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.name=T", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false", *args],
                          check=True, capture_output=True, text=True).stdout


def test_sarif_of_a_scan_is_valid_and_fit_for_github(tmp_path: Path, ruleset: RuleSet) -> None:
    secrets_ = [fake_password() for _ in range(3)]
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secrets_[0]}"\n')
    (tmp_path / "dir with space").mkdir()
    (tmp_path / "dir with space" / "b#c.env").write_text(f"\n\nexport SERVICE_TOKEN={secrets_[1]}\n")
    (tmp_path / "c.yaml").write_text(f"api_key: {secrets_[2]}\n")
    report = scan_dir(tmp_path, ruleset)
    assert len(report.findings) >= 3
    text = render_sarif(report, ruleset, RenderOptions())
    for s in secrets_:
        assert s not in text
    doc = json.loads(text)
    validate(doc)
    check_github_constraints(doc)
    run = doc["runs"][0]
    # Exactly the rules with results, each once, and every result points at its own rule.
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == sorted({f.rule_id for f in report.findings})
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "dir%20with%20space/b%23c.env" in uris and "a.py" in uris
    b = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("b%23c.env"))
    assert b["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    iso = next(t for t in run["taxonomies"] if t["name"] == ISO_TAXONOMY)
    assert iso["guid"] == load_mapping().taxonomy_guid
    assert {"A.5.17", "A.8.28", "A.5.9"} <= {t["id"] for t in iso["taxa"]}
    assert run["invocations"][0]["executionSuccessful"] is True


def test_show_secrets_is_the_only_way_to_see_the_value(tmp_path: Path, ruleset: RuleSet) -> None:
    secret = fake_password()
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    report = scan_dir(tmp_path, ruleset)
    assert secret not in render_sarif(report, ruleset, RenderOptions())
    shown = render_sarif(report, ruleset, RenderOptions(show_secrets=True))
    assert secret in shown
    validate(json.loads(shown))


def test_fingerprints_are_stable_when_lines_move(tmp_path: Path, ruleset: RuleSet) -> None:
    secret = fake_password()
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    first = json.loads(render_sarif(scan_dir(tmp_path, ruleset), ruleset, RenderOptions()))
    (tmp_path / "a.py").write_text(f'import os\n\n\nDB_PASSWORD = "{secret}"\n')
    second = json.loads(render_sarif(scan_dir(tmp_path, ruleset), ruleset, RenderOptions()))
    fp = [r["runs"][0]["results"][0]["partialFingerprints"] for r in (first, second)]
    assert fp[0] == fp[1]
    assert second["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_uris_are_relative_to_the_repository_root(tmp_path: Path, ruleset: RuleSet) -> None:
    repo = tmp_path / "repo"
    (repo / "svc" / "conf").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "svc" / "conf" / "app.py").write_text(f'DB_PASSWORD = "{fake_password()}"\n')
    doc = json.loads(render_sarif(scan_dir(repo / "svc", ruleset), ruleset, RenderOptions()))
    run = doc["runs"][0]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "svc/conf/app.py"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == repo.resolve().as_uri() + "/"
    validate(doc)


def _rule(rule_id: str, severity: Severity, kind: NhiKind = NhiKind.GENERIC_CREDENTIAL, **extra: Any) -> Rule:
    return Rule(id=rule_id, name=f"Rule {rule_id}", provider="Example", nhi_kind=kind, severity=severity,
                confidence=Confidence.HIGH, keywords=("k",), regex="x", secret_group=0, **extra)


def _finding(rule: Rule, path: str, line: int, *, commit: CommitInfo | None = None):  # type: ignore[no-untyped-def]
    secret = fake_password().encode()
    m = Match(rule_id=rule.id, start=0, end=len(secret), line=line, column=3, end_line=line, end_column=3 + len(secret),
              secret=secret, entropy=4.0)
    return make_finding(m, rule, path=path, mapping=load_mapping(), commit=commit, from_history=commit is not None)


def test_history_results_carry_commit_and_incident_taxa(tmp_path: Path) -> None:
    rule = _rule("example-token", Severity.HIGH, NhiKind.SOURCE_CONTROL_TOKEN, cwe=(798,))
    commit = CommitInfo(sha="b" * 40, author="Ada Dev", email="ada@example.test", date="2024-02-03T04:05:06+00:00")
    report = ScanReport(findings=[_finding(rule, "src/x.py", 7, commit=commit)], stats=Stats(), source_kind="git",
                        root=str(tmp_path), head_commit="c" * 40, repository_uri="https://example.test/acme/app")
    doc = build_sarif(report, RuleSet((rule,)), RenderOptions())
    validate(doc)
    check_github_constraints(doc)
    run = doc["runs"][0]
    res = run["results"][0]
    assert res["properties"]["commit"] == "b" * 40 and res["properties"]["first-seen"] == commit.date
    assert {t["id"] for t in res["taxa"]} == set(load_mapping().history)
    assert run["versionControlProvenance"] == [
        {"repositoryUri": "https://example.test/acme/app", "revisionId": "c" * 40, "mappedTo": {"uriBaseId": "SRCROOT"}}
    ]
    assert "bbbbbbbbbbbb" in res["message"]["text"]
    tags = run["tool"]["driver"]["rules"][0]["properties"]["tags"]
    assert "external/cwe/cwe-798" in tags and "iso27001/A.5.17" in tags and "owasp-nhi/NHI2" in tags


def test_results_past_the_limit_are_cut_predictably_with_a_notification(tmp_path: Path) -> None:
    assert MAX_RESULTS == 25_000
    low, high = _rule("low-one", Severity.LOW), _rule("critical-one", Severity.CRITICAL)
    findings = [_finding(low, f"l{i}.py", 1) for i in range(4)] + [_finding(high, f"h{i}.py", 1) for i in range(2)]
    report = ScanReport(findings=findings, stats=Stats(), source_kind="files", root=str(tmp_path))
    doc = build_sarif(report, RuleSet((low, high)), RenderOptions(), max_results=3)
    validate(doc)
    run = doc["runs"][0]
    assert len(run["results"]) == 3
    assert sorted(r["ruleId"] for r in run["results"]) == ["critical-one", "critical-one", "low-one"]
    kept_low = [r for r in run["results"] if r["ruleId"] == "low-one"]
    assert kept_low[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "l0.py"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["descriptor"]["id"] == "results-truncated" and "3 of 6" in n["message"]["text"] for n in notes)
    assert run["properties"]["nhiscan"]["results-total"] == 6


def test_tags_are_cut_to_twenty(tmp_path: Path) -> None:
    mapping = load_mapping()
    rule = _rule("many-controls", Severity.HIGH, NhiKind.SAAS_API_KEY, controls=tuple(mapping.controls), tags=("a", "b", "c"))
    tags, cut = rule_tags(rule, mapping)
    assert len(tags) == MAX_TAGS and cut > 0 and tags[0] == "security" and tags[1].startswith("external/cwe/")
    report = ScanReport(findings=[_finding(rule, "a.py", 1)], stats=Stats(), source_kind="files", root=str(tmp_path))
    doc = build_sarif(report, RuleSet((rule,)), RenderOptions())
    validate(doc)
    check_github_constraints(doc)
    d = doc["runs"][0]["tool"]["driver"]["rules"][0]
    assert len(d["properties"]["iso27001"]) == len(mapping.controls)  # the full list survives
    assert any(n["descriptor"]["id"] == "tags-truncated" for n in doc["runs"][0]["invocations"][0]["toolExecutionNotifications"])


def test_unreadable_inputs_make_the_run_unsuccessful(tmp_path: Path) -> None:
    from nhiscan.model import ReadError

    report = ScanReport(findings=[], stats=Stats(errors=1), source_kind="files", root=str(tmp_path),
                        errors=[ReadError(path="locked.txt", message="Permission denied")])
    doc = build_sarif(report, RuleSet(()), RenderOptions())
    validate(doc)
    inv = doc["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["toolExecutionNotifications"][0]["level"] == "error"


def test_registry_renders_sarif(tmp_path: Path, ruleset: RuleSet) -> None:
    report = ScanReport(findings=[], stats=Stats(), source_kind="files", root=str(tmp_path))
    doc = json.loads(renderer_for(ScanFormat.SARIF)(report, ruleset, RenderOptions()))
    validate(doc)
    check_github_constraints(doc)
    assert doc["runs"][0]["results"] == []


def test_cli_scan_format_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from nhiscan.cli.main import main

    secret = fake_password()
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    out = tmp_path / "out.sarif"
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "a.py", "--format", "sarif", "-o", str(out)]) == 1
    text = out.read_text()
    assert secret not in text and secret not in capsys.readouterr().err
    doc = json.loads(text)
    validate(doc)
    check_github_constraints(doc)


def test_sarif_of_a_history_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("nhiscan.history", reason="the history scanner (nhiscan/history.py) is not in this build yet")
    from nhiscan.cli.main import main

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    secret = fake_password()
    (repo / "app.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    (repo / "app.py").write_text('DB_PASSWORD = os.environ["DB_PASSWORD"]\n')
    _git(repo, "commit", "-q", "-am", "two")
    out = tmp_path / "git.sarif"
    assert main(["git", str(repo), "--format", "sarif", "-o", str(out)]) == 1
    text = out.read_text()
    assert secret not in text
    doc = json.loads(text)
    validate(doc)
    check_github_constraints(doc)
    run = doc["runs"][0]
    res = [r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app.py"]
    assert res and res[0]["properties"]["commit"] and res[0]["properties"]["first-seen"]
    rule = run["tool"]["driver"]["rules"][res[0]["ruleIndex"]]
    assert {t["id"] for t in res[0]["taxa"]} | set(rule["properties"]["iso27001"]) >= set(load_mapping().history)
    assert "automationDetails" not in run  # upload-sarif's category decides
    capsys.readouterr()


def test_git_sarif_carries_version_control_provenance_without_credentials(tmp_path: Path) -> None:
    import subprocess

    from nhiscan.cli.main import main

    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    run("config", "user.email", "a@example.com")
    run("config", "user.name", "A")
    (repo / "a.py").write_text("x = 1\n")
    run("add", "a.py")
    run("commit", "-qm", "one")
    run("remote", "add", "origin", "https://ci-bot:hunter2-not-a-token@git.example.com/acme/app.git")
    out = tmp_path / "r.sarif"
    assert main(["git", str(repo), "--format", "sarif", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    validate(doc)
    (vcp,) = doc["runs"][0]["versionControlProvenance"]
    assert vcp["repositoryUri"] == "https://git.example.com/acme/app.git"
    assert len(vcp["revisionId"]) == 40
    assert "hunter2" not in out.read_text()


def test_sarif_uri_of_a_non_utf8_file_name_points_at_the_file() -> None:
    from nhiscan.reporters.sarif import artifact_location

    assert artifact_location("caf\\xe9.txt", "", None)["uri"] == "caf%E9.txt"
    assert artifact_location("ok/ü.py", "", None)["uri"] == "ok/%C3%BC.py"


def test_the_kept_schema_is_the_official_one() -> None:
    """tests/data holds a copy of ../shared/schemas/sarif-schema-2.1.0.json; where shared/ is
    beside the repository, the two must be identical."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
    if not shared.is_file():
        pytest.skip("no shared/ beside this checkout")
    assert shared.read_bytes() == SCHEMA_PATH.read_bytes()
