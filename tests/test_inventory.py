"""The NHI register: grouping, git evidence, CODEOWNERS, in-band metadata, formats, CLI.

Every credential here is generated at test time (random characters; keys made on the spot):
never a real one. Tests never print a raw secret: assertions compare, they do not show.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import secrets
import shutil
import string
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.tokens import generic_password

from nhiscan.cli.main import main
from nhiscan.config import Config
from nhiscan.engine.scanner import Scanner
from nhiscan.inventory.build import BuildContext, build_inventory, environments_of, sighting_from_finding
from nhiscan.inventory.codeowners import parse_codeowners
from nhiscan.inventory.metadata import inband_metadata
from nhiscan.inventory.model import PEOPLE_FIELDS, Inventory
from nhiscan.inventory.render import InventoryFormat, inventory_renderer_for
from nhiscan.inventory.render.csv import safe_cell
from nhiscan.inventory.sources import inventory_from_json, inventory_from_scan
from nhiscan.mapping.controls import load_mapping
from nhiscan.mapping.identity import make_finding
from nhiscan.model import CommitInfo, Confidence, Match, NhiKind, Rule, ScanReport, Severity, Stats
from nhiscan.rules import RuleSet
from nhiscan.scan import EngineOptions, scan_paths

_CHARS = string.ascii_letters + string.digits + "!#%*+"
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


# -- fakes -----------------------------------------------------------------------------------

fake_password = generic_password


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_jwt(claims: dict[str, object]) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    return f"{header}.{body}.{_b64url(secrets.token_bytes(32))}"


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _der(0x02, raw)


def fake_rsa_pkcs1_pem(bits: int = 2048) -> str:
    """A structurally valid PKCS#1 RSA key made of random numbers (not a usable key)."""
    n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    fields = [_der_int(0), _der_int(n), _der_int(65537)] + [_der_int(secrets.randbits(bits // 2)) for _ in range(6)]
    der = _der(0x30, b"".join(fields))
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"


def fake_ed25519_pkcs8_pem() -> str:
    der = bytes.fromhex("302e020100300506032b657004220420") + secrets.token_bytes(32)
    return "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"


class Repo:
    """A real git repository in a tmp dir, with chosen authors and dates per commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str = "Ada Dev", email: str = "ada@example.test", date: str = "2024-01-01T00:00:00+00:00") -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date,
            GIT_COMMITTER_NAME=author, GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_DATE=date,
            GIT_CONFIG_NOSYSTEM="1", HOME=str(self.path.parent),
        )
        return subprocess.run(["git", "-C", str(self.path), "-c", "commit.gpgsign=false", *args],
                              check=True, capture_output=True, text=True, env=env).stdout

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def commit(self, message: str, **who: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, **who)
        return self.git("rev-parse", "HEAD").strip()


def generic_rule() -> Rule:
    return Rule(
        id="test-generic", name="Test credential", provider="Generic", nhi_kind=NhiKind.GENERIC_CREDENTIAL,
        severity=Severity.MEDIUM, confidence=Confidence.MEDIUM, keywords=("password",), regex="x", secret_group=0,
    )


def finding(secret: str, path: str, line: int = 1, *, commit: CommitInfo | None = None, rule: Rule | None = None, from_history: bool = False):  # type: ignore[no-untyped-def]
    rule = rule or generic_rule()
    raw = secret.encode()
    m = Match(rule_id=rule.id, start=0, end=len(raw), line=line, column=5, end_line=line, end_column=5 + len(secret),
              secret=raw, entropy=4.0)
    return make_finding(m, rule, path=path, mapping=load_mapping(), commit=commit, from_history=from_history)


def commit_info(repo: Repo, sha: str) -> CommitInfo:
    out = repo.git("log", "-1", "--format=%H%x00%an%x00%ae%x00%aI", sha).strip().split("\0")
    return CommitInfo(sha=out[0], author=out[1], email=out[2], date=out[3])


def scan_dir(path: Path, ruleset: RuleSet) -> ScanReport:
    scanner = Scanner(ruleset, backend="aho-corasick")
    return scan_paths([str(path)], config=Config(), ruleset=ruleset, scanner=scanner,
                      options=EngineOptions(backend="aho-corasick"), jobs=1)


def render_all(inv: Inventory) -> dict[str, str]:
    mapping = load_mapping()
    return {fmt.value: inventory_renderer_for(fmt)(inv, mapping) for fmt in InventoryFormat}


# -- CODEOWNERS ------------------------------------------------------------------------------

CODEOWNERS = """\
# comment
*                @acme/everyone
*.js             @acme/js
/build/logs/     @acme/logs
docs/*           docs@example.test
apps/            @acme/apps
/docs/           @acme/docs
**/logs          @acme/any-logs
/apps/github
/src/payments/   @acme/payments   # trailing comment
\\#odd           @acme/hash
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@acme/everyone",)),
        ("web/app.js", ("@acme/js",)),
        ("build/logs/today.txt", ("@acme/any-logs",)),  # the later **/logs wins
        ("docs/getting-started.md", ("@acme/docs",)),  # /docs/ comes after docs/*
        ("deep/apps/x/y.py", ("@acme/apps",)),
        ("apps/github/main.py", ()),  # explicitly unowned
        ("apps/other/main.py", ("@acme/apps",)),
        ("src/payments/settings.py", ("@acme/payments",)),
        ("deeply/nested/logs/a.txt", ("@acme/any-logs",)),
        ("#odd", ("@acme/hash",)),
    ],
)
def test_codeowners_last_match_wins(path: str, owners: tuple[str, ...]) -> None:
    co = parse_codeowners(CODEOWNERS, file=".github/CODEOWNERS")
    match = co.owner_of(path)
    assert match is not None
    assert match.owners == owners


def test_codeowners_star_slash_matches_direct_children_only() -> None:
    co = parse_codeowners("docs/*  @docs\n")
    assert co.owner_of("docs/a.md") is not None
    assert co.owner_of("docs/build-app/troubleshooting.md") is None
    assert co.owner_of("other/docs/a.md") is None  # a middle slash anchors at the root


def test_codeowners_anchoring_and_dirs() -> None:
    co = parse_codeowners("/build/ @b\nconfig @c\nsrc/*.py @p\n")
    assert co.owner_of("build/x/y").owners == ("@b",)  # type: ignore[union-attr]
    assert co.owner_of("lib/build/x") is None
    assert co.owner_of("a/config/b.yml").owners == ("@c",)  # type: ignore[union-attr]
    assert co.owner_of("a/config").owners == ("@c",)  # type: ignore[union-attr]
    assert co.owner_of("src/m.py").owners == ("@p",)  # type: ignore[union-attr]
    assert co.owner_of("src/sub/m.py") is None


# -- in-band metadata ------------------------------------------------------------------------

def test_jwt_metadata_keeps_only_non_secret_claims() -> None:
    exp = int(NOW.timestamp()) - 3600
    token = fake_jwt({"iss": "https://issuer.example.test", "exp": exp, "sub": "user-4711", "email": "x@example.test", "role": "admin"})
    meta = inband_metadata(f'Authorization: Bearer {token}'.encode())
    jwt = meta["jwt"]
    assert jwt["alg"] == "HS256" and jwt["iss"] == "https://issuer.example.test" and jwt["exp"] == exp
    assert jwt["exp_iso"].endswith("Z")
    assert "sub" not in jwt and "email" not in jwt and "role" not in jwt
    assert token.split(".")[2] not in json.dumps(meta)


def test_key_metadata_from_pem() -> None:
    rsa = inband_metadata(fake_rsa_pkcs1_pem(2048).encode())["key"]
    assert rsa["algorithm"] == "RSA" and rsa["bits"] == 2048 and rsa["encrypted"] is False
    ed = inband_metadata(fake_ed25519_pkcs8_pem().encode())["key"]
    assert ed["algorithm"] == "Ed25519"
    escaped = fake_rsa_pkcs1_pem(1024).replace("\n", "\\n")  # as inside a JSON string
    assert inband_metadata(escaped.encode())["key"]["bits"] == 1024
    assert inband_metadata(b"-----BEGIN EC PRIVATE KEY-----\nnot base64 at all!\n")["key"]["algorithm"] == "EC"
    assert inband_metadata(b"just some value") == {}


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_key_metadata_from_openssh_key(tmp_path: Path) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    meta = inband_metadata(key.read_bytes())["key"]
    assert meta == {"format": "OPENSSH PRIVATE KEY", "algorithm": "Ed25519", "encrypted": False}


def test_environments() -> None:
    assert environments_of(["config/prod.yaml", "deploy/dev.env", "x/staging/app.ini", "productivity.txt"]) == ("dev", "staging", "prod")


# -- building from history (findings with commits, checked against a real repo) -------------

def _three_files_two_commits(tmp_path: Path) -> tuple[Repo, str, list[CommitInfo]]:
    repo = Repo(tmp_path / "repo")
    secret = fake_password()
    repo.write(".github/CODEOWNERS", "* @acme/everyone\n/services/billing/ @acme/billing\n")
    repo.write("services/billing/settings.py", f'DB_PASSWORD = "{secret}"\n')
    c1 = repo.commit("billing", date="2024-01-10T09:00:00+00:00")
    repo.write("deploy/prod.env", f"DB_PASSWORD={secret}\n")
    repo.write("deploy/dev.env", f"# dev\nDB_PASSWORD={secret}\n")
    c2 = repo.commit("deploy", author="Bob Ops", email="bob@example.test", date="2024-03-01T12:00:00+00:00")
    return repo, secret, [commit_info(repo, c1), commit_info(repo, c2)]


def test_same_credential_in_three_files_and_two_commits_is_one_entry(tmp_path: Path) -> None:
    repo, secret, (c1, c2) = _three_files_two_commits(tmp_path)
    findings = [
        finding(secret, "services/billing/settings.py", 1, commit=c1, from_history=True),
        finding(secret, "deploy/prod.env", 1, commit=c2, from_history=True),
        finding(secret, "deploy/dev.env", 2, commit=c2, from_history=True),
    ]
    report = ScanReport(findings=findings, stats=Stats(), source_kind="git", root=str(repo.path))
    inv = inventory_from_scan(report, now=NOW)
    assert len(inv.entries) == 1
    e = inv.entries[0]
    assert {(loc.path, loc.line) for loc in e.locations} == {
        ("services/billing/settings.py", 1), ("deploy/prod.env", 1), ("deploy/dev.env", 2)}
    assert e.first_seen is not None and e.first_seen.commit == c1.sha and e.first_seen.author == "Ada Dev"
    assert e.owner.owners == ("@acme/billing",) and e.owner.source == "codeowners"
    assert ".github/CODEOWNERS:2" in e.owner.detail
    assert e.present_at_head is True
    assert set(e.head_paths) == {"services/billing/settings.py", "deploy/prod.env", "deploy/dev.env"}
    assert e.reuse_count == 3 and e.environments == ("dev", "prod")
    assert e.committers == ("Ada Dev <ada@example.test>", "Bob Ops <bob@example.test>")
    assert e.age_days == (NOW - datetime(2024, 1, 10, 9, tzinfo=timezone.utc)).days
    mapping = load_mapping()
    assert set(mapping.baseline) <= set(e.controls) and set(mapping.history) <= set(e.controls)
    assert "NHI9" in e.owasp and "NHI8" in e.owasp
    assert e.status == "open" and set(e.people) == set(PEOPLE_FIELDS) and not any(e.people.values())
    for text in render_all(inv).values():
        assert secret not in text


def test_removed_credential_has_removal_commit_and_exposure_window(tmp_path: Path) -> None:
    repo, secret, (c1, c2) = _three_files_two_commits(tmp_path)
    repo.git("rm", "-q", "deploy/prod.env", "deploy/dev.env")
    repo.write("services/billing/settings.py", 'DB_PASSWORD = os.environ["DB_PASSWORD"]\n')
    removal = repo.commit("use the environment", author="Cy Sec", email="cy@example.test", date="2024-04-01T00:00:00+00:00")
    findings = [
        finding(secret, "services/billing/settings.py", 1, commit=c1, from_history=True),
        finding(secret, "deploy/prod.env", 1, commit=c2, from_history=True),
    ]
    report = ScanReport(findings=findings, stats=Stats(), source_kind="git", root=str(repo.path))
    e = inventory_from_scan(report, now=NOW).entries[0]
    assert e.present_at_head is False and e.head_paths == ()
    assert e.removed_in is not None and e.removed_in.commit == removal and e.removed_in.author == "Cy Sec"
    assert e.last_seen is not None and e.last_seen.commit == c2.sha
    assert e.exposure_days == (datetime(2024, 4, 1, tzinfo=timezone.utc) - datetime(2024, 1, 10, 9, tzinfo=timezone.utc)).days
    assert e.age_days is not None and e.age_days > e.exposure_days


def test_renamed_file_is_still_present_at_head(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    secret = fake_password()
    repo.write("old.py", f'DB_PASSWORD = "{secret}"\n')
    c1 = commit_info(repo, repo.commit("one"))
    repo.git("mv", "old.py", "new.py")
    repo.commit("rename", date="2024-02-01T00:00:00+00:00")
    report = ScanReport(findings=[finding(secret, "old.py", commit=c1, from_history=True)], stats=Stats(), source_kind="git", root=str(repo.path))
    e = inventory_from_scan(report, now=NOW).entries[0]
    assert e.present_at_head is True and e.head_paths == ("new.py",) and e.removed_in is None


def test_no_codeowners_falls_back_to_the_introducing_author(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    secret = fake_password()
    repo.write("app.py", f'DB_PASSWORD = "{secret}"\n')
    c1 = commit_info(repo, repo.commit("one", author="Dee Dev", email="dee@example.test"))
    report = ScanReport(findings=[finding(secret, "app.py", commit=c1, from_history=True)], stats=Stats(), source_kind="git", root=str(repo.path))
    e = inventory_from_scan(report, now=NOW).entries[0]
    assert e.owner.source == "author" and e.owner.owners == ("Dee Dev <dee@example.test>",)


def test_public_id_merges_pieces_of_one_credential() -> None:
    mapping = load_mapping()
    rule = Rule(id="test-cloud", name="Cloud key", provider="ExampleCloud", nhi_kind=NhiKind.CLOUD_ACCESS_KEY,
                severity=Severity.CRITICAL, confidence=Confidence.HIGH, keywords=("k",), regex="x", secret_group=0)
    pieces = []
    for value, path in ((fake_password(), "a.py"), (fake_password(), "b.py")):
        m = Match(rule_id=rule.id, start=0, end=16, line=1, column=1, end_line=1, end_column=17,
                  secret=value.encode(), entropy=4.0, public_id="EXAMPLEKEYID0001")
        pieces.append(make_finding(m, rule, path=path, mapping=mapping))
    inv = build_inventory([sighting_from_finding(f) for f in pieces], ctx=BuildContext(mapping=mapping, now=NOW), source_kind="files", root=".")
    assert len(inv.entries) == 1 and inv.entries[0].public_id == "EXAM…(16 chars)"  # a key id is redacted (CONTRACT)
    assert "A.5.23" in inv.entries[0].controls  # the cloud kind's controls


# -- building from a files scan --------------------------------------------------------------

def test_files_scan_in_a_repo_uses_blame_and_codeowners(tmp_path: Path, ruleset: RuleSet) -> None:
    repo = Repo(tmp_path / "repo")
    secret = fake_password()
    repo.write("CODEOWNERS", "*.py @acme/python\n")
    repo.write("pkg/a.py", f'DB_PASSWORD = "{secret}"\n')
    c1 = repo.commit("one", author="Eve Eng", email="eve@example.test", date="2023-05-05T05:05:05+00:00")
    repo.write("pkg/b.py", f'DB_PASSWORD = "{secret}"\n')  # not committed yet
    inv = inventory_from_scan(scan_dir(repo.path, ruleset), ruleset=ruleset, now=NOW)
    [e] = [e for e in inv.entries if e.secret_sha256 == __import__("hashlib").sha256(secret.encode()).hexdigest()]
    assert {loc.path for loc in e.locations} == {"pkg/a.py", "pkg/b.py"}
    assert e.first_seen is not None and e.first_seen.commit == c1 and e.first_seen.author == "Eve Eng"
    assert e.present_at_head is True
    assert e.owner.owners == ("@acme/python",)
    assert inv.codeowners_file == "CODEOWNERS"


def test_scan_of_a_subfolder_gives_repository_relative_paths(tmp_path: Path, ruleset: RuleSet) -> None:
    repo = Repo(tmp_path / "repo")
    secret = fake_password()
    repo.write("CODEOWNERS", "/svc/ @acme/svc\n")
    repo.write("svc/conf.py", f'DB_PASSWORD = "{secret}"\n')
    repo.commit("one")
    inv = inventory_from_scan(scan_dir(repo.path / "svc", ruleset), ruleset=ruleset, now=NOW)
    e = inv.entries[0]
    assert e.locations[0].path == "svc/conf.py" and e.owner.owners == ("@acme/svc",)


# -- formats ---------------------------------------------------------------------------------

def _hostile_inventory(tmp_path: Path) -> tuple[Inventory, str]:
    secret = fake_password()
    c = CommitInfo(sha="a" * 40, author="=HYPERLINK(\"http://evil.example\")", email="@evil", date="2024-01-01T00:00:00+00:00")
    findings = [
        finding(secret, "=cmd|' /C calc'!A0.py", 1, commit=c),
        finding(secret, "a|b<script>alert(1)</script>.py", 2, commit=c),
        finding(secret, "-2+3.env", 3, commit=c),
    ]
    report = ScanReport(findings=findings, stats=Stats(), source_kind="files", root=str(tmp_path / "nowhere"))
    return inventory_from_scan(report, now=NOW), secret


def test_every_format_renders_and_holds_no_raw_secret(tmp_path: Path) -> None:
    inv, secret = _hostile_inventory(tmp_path)
    outputs = render_all(inv)
    assert set(outputs) == {f.value for f in InventoryFormat}
    for fmt, text in outputs.items():
        assert secret not in text, fmt
        assert inv.entries[0].id in text, fmt


def test_csv_guards_against_formula_injection(tmp_path: Path) -> None:
    inv, _ = _hostile_inventory(tmp_path)
    text = inventory_renderer_for(InventoryFormat.CSV)(inv, load_mapping())
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 1
    for row in rows:
        for value in row.values():
            assert not value.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert rows[0]["locations"].startswith("'") and "=cmd" in rows[0]["locations"]
    assert rows[0]["first_seen_author"].startswith("'=HYPERLINK")
    assert safe_cell("  =1+1") == "'  =1+1" and safe_cell("plain") == "plain" and safe_cell(None) == ""


def test_markdown_and_html_escape(tmp_path: Path) -> None:
    inv, _ = _hostile_inventory(tmp_path)
    outputs = render_all(inv)
    md_rows = [ln for ln in outputs["markdown"].splitlines() if ln.startswith("| nhi-")]
    assert len(md_rows) == 1
    assert md_rows[0].count(" | ") == 14  # no stray column from the path's pipe
    assert "<script>" not in outputs["markdown"] and "<script>" not in outputs["html"].split("<script>", 1)[0] + outputs["html"].rsplit("</script>", 1)[-1]
    assert "&lt;script&gt;alert(1)" in outputs["html"]


def test_json_register_shape(tmp_path: Path) -> None:
    inv, _ = _hostile_inventory(tmp_path)
    doc = json.loads(inventory_renderer_for(InventoryFormat.JSON)(inv, load_mapping()))
    assert doc["version"] == 1 and doc["tool"]["name"] == "nhiscan"
    e = doc["entries"][0]
    for key in ("id", "kind", "provider", "rule_id", "secret", "secret_sha256", "locations", "present_at_head",
                "first_seen", "last_seen", "removed_in", "exposure_days", "committers", "owner", "reuse_count",
                "metadata", "controls", "status", *PEOPLE_FIELDS):
        assert key in e, key
    assert {"path", "line", "commit"} <= set(e["locations"][0])
    assert [c["id"] for c in doc["controls"]] == sorted((c["id"] for c in doc["controls"]), key=lambda c: tuple(int(x) for x in c.split(".")[1:]))


# -- the command -----------------------------------------------------------------------------

def test_cli_inventory_of_paths_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = fake_password()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    (src / "b.yaml").write_text(f"db_password: {secret}\n")
    for fmt in ("json", "csv", "markdown", "html"):
        out = tmp_path / f"register.{fmt}"
        assert main(["inventory", str(src), "--format", fmt, "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8")
        assert secret not in text
    doc = json.loads((tmp_path / "register.json").read_text())
    assert len(doc["entries"]) == 1 and len(doc["entries"][0]["locations"]) == 2
    assert secret not in capsys.readouterr().err


def test_cli_inventory_from_report_without_rescanning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = fake_password()
    token = fake_jwt({"iss": "https://issuer.example.test", "exp": 2_000_000_000})
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secret}"\nAPI_TOKEN = "{token}"\n')
    report = tmp_path / "report.json"
    # Written with --show-secrets: the register must still not hold them.
    assert main(["scan", str(tmp_path / "a.py"), "--format", "json", "--show-secrets", "-o", str(report)]) == 1
    out = tmp_path / "inv.json"
    assert main(["inventory", "--from", str(report), "--repo", str(tmp_path), "-o", str(out)]) == 0
    text = out.read_text()
    assert secret not in text and token not in text and token.split(".")[1] not in text
    doc = json.loads(text)
    jwts = [e["metadata"]["jwt"] for e in doc["entries"] if "jwt" in e["metadata"]]
    if jwts:  # when a rule reports the token, its non-secret claims are read
        assert jwts[0]["iss"] == "https://issuer.example.test"
    assert any(e["secret_sha256"] == __import__("hashlib").sha256(secret.encode()).hexdigest() for e in doc["entries"])
    capsys.readouterr()


def test_cli_previous_register_carries_people_columns(tmp_path: Path) -> None:
    secret = fake_password()
    (tmp_path / "a.py").write_text(f'DB_PASSWORD = "{secret}"\n')
    first = tmp_path / "inv1.json"
    assert main(["inventory", str(tmp_path / "a.py"), "-o", str(first)]) == 0
    doc = json.loads(first.read_text())
    doc["entries"][0].update(status="accepted", vault_path="kv/app/db", ticket="SEC-42")
    first.write_text(json.dumps(doc))
    second = tmp_path / "inv2.json"
    assert main(["inventory", str(tmp_path / "a.py"), "--previous", str(first), "-o", str(second)]) == 0
    e = json.loads(second.read_text())["entries"][0]
    assert (e["status"], e["vault_path"], e["ticket"]) == ("accepted", "kv/app/db", "SEC-42")


@pytest.mark.parametrize(
    "args",
    [
        ["inventory", "--from", "missing.json"],
        ["inventory", "somewhere", "--git", "."],
        ["inventory", "--format", "pdf"],
        ["inventory", "no/such/path"],
        ["inventory", "--repo", "."],
    ],
)
def test_cli_inventory_errors_exit_2(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("nhiscan: error:") and "Traceback" not in err


def test_cli_inventory_from_a_file_that_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    assert main(["inventory", "--from", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_cli_inventory_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("nhiscan.history", reason="the history scanner (nhiscan/history.py) is not in this build yet")
    repo, secret, (c1, _c2) = _three_files_two_commits(tmp_path)
    out = tmp_path / "inv.json"
    assert main(["inventory", "--git", str(repo.path), "-o", str(out)]) == 0
    text = out.read_text()
    assert secret not in text
    digest = __import__("hashlib").sha256(secret.encode()).hexdigest()
    entries = [e for e in json.loads(text)["entries"] if e["secret_sha256"] == digest]
    assert len(entries) == 1
    e = entries[0]
    assert {loc["path"] for loc in e["locations"]} == {"services/billing/settings.py", "deploy/prod.env", "deploy/dev.env"}
    assert e["first_seen"]["commit"] == c1.sha
    assert e["owner"] == "@acme/billing"
    assert e["present_at_head"] is True
    assert set(load_mapping().history) <= set(e["controls"])
    # Read back from the history report, the same register comes out without rescanning.
    report = tmp_path / "git.json"
    assert main(["git", str(repo.path), "--format", "json", "-o", str(report)]) == 1
    out2 = tmp_path / "inv2.json"
    assert main(["inventory", "--from", str(report), "--repo", str(repo.path), "-o", str(out2)]) == 0
    e2 = [x for x in json.loads(out2.read_text())["entries"] if x["secret_sha256"] == digest][0]
    assert (e2["first_seen"], e2["owner"], e2["present_at_head"]) == (e["first_seen"], e["owner"], True)
    capsys.readouterr()


def test_registry_handles_every_format() -> None:
    for fmt in InventoryFormat:
        assert callable(inventory_renderer_for(fmt))


def test_build_is_fast_enough_for_many_entries() -> None:
    mapping = load_mapping()
    sightings = [sighting_from_finding(finding(fake_password(), f"f{i}.py", i + 1)) for i in range(2000)]
    started = time.monotonic()
    inv = build_inventory(sightings, ctx=BuildContext(mapping=mapping, now=NOW, present_default=True), source_kind="files", root=".")
    assert len(inv.entries) == 2000
    render_all(inv)
    assert time.monotonic() - started < 20
