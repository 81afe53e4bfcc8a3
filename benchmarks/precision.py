"""Precision triage: scan real codebases, tally findings by rule and by verdict.

    python benchmarks/precision.py                    # counts for the working tree's rules
    python benchmarks/precision.py --ref db290e3      # ... and for a git revision, side by side
    python benchmarks/precision.py --list             # every finding: path:line, rule, verdict
    python benchmarks/precision.py --check            # exit 1 if a finding has no verdict
    python benchmarks/precision.py bigrams            # regenerate placeholders._BIGRAM_LEVELS

The corpora are PyPI sdists unpacked under ``benchmarks/.corpus/trees`` (``common.tree_for``).
They are scanned with an empty configuration (the ``.nhiscan.toml`` of this repository must not
apply to them) and every file included (``--no-ignore``).

The verdicts (``VERDICTS`` below) were assigned by reading each finding in its file; they are
keyed by corpus, path, line and rule, never by the secret, and nothing here prints or writes a
secret value. A finding not in the table is reported as ``untriaged``.

"With context" applies ``nhiscan.engine.context.adjust_confidence`` (test paths, documentation
paths and placeholder-looking values lower the confidence; generic rules are dropped in
documentation) as ``ReportBuilder`` will once it is wired in.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from common import tree_for  # noqa: E402

CORPORA = ["django==5.1.4", "sqlalchemy==2.0.36", "ansible-core==2.17.7"]
EXTRA_CORPORA = ["botocore==1.35.81"]

REAL, FIXTURE, DOCS, FP = "real secret", "test fixture", "documentation example", "false positive"

# Why a finding is what it is. The class names are used in benchmarks/precision.md.
CLASSES = {
    "multiline-key": (FP, "generic rule ran from a key at the end of one line to the next line's text"),
    "auth-in-word": (FP, "`auth` matched inside author/authors/authentication/authorization"),
    "call-or-subscript": (FP, "value is a call, constructor or subscript: code, not a literal"),
    "identifier": (FP, "value is an identifier or a phrase of words"),
    "format-slot": (FP, "value is a format string (`%s`)"),
    "deploy-token": (REAL, "a GitLab deploy token (username `gitlab+deploy-token-N`) in a URL"),
    "test-password": (FIXTURE, "password of a test account or test container"),
    "test-key": (FIXTURE, "key or secret generated for a test"),
    "test-hash": (FIXTURE, "password hash (a verifier, not a credential) of a test user"),
    "test-url": (FIXTURE, "made-up URL credentials for a log-sanitizer test"),
    "doc-password": (DOCS, "example password in documentation or a docstring"),
    "doc-hash": (DOCS, "example password hash in documentation"),
    "doc-test-password": (DOCS, "the test-container password, shown in documentation"),
    "doc-presigned-url": (DOCS, "access key id and signature of a presigned URL in an API example"),
    "pagination-token": (FP, "API pagination, idempotency or DNS-verification token (NextToken, ClientToken)"),
    "cache-key": (FP, "SHA-1 digest used as a cache file name (token_cache_key)"),
}

# (corpus, path, line, rule) -> class. The three triaged corpora: every finding of the scans at
# the revision before this triage (db290e3) and after it. botocore (extra): the findings after.
_V = """
django==5.1.4
django/contrib/admin/static/admin/js/vendor/xregexp/xregexp.js:1079 generic-credential call-or-subscript
django/contrib/auth/__init__.py:92 generic-credential call-or-subscript
django/contrib/auth/checks.py:249 generic-credential call-or-subscript
django/core/checks/security/base.py:22 generic-credential identifier
django/middleware/csrf.py:27 generic-credential call-or-subscript
django/middleware/csrf.py:86 generic-credential call-or-subscript
django/middleware/csrf.py:113 generic-credential call-or-subscript
django/template/context_processors.py:33 generic-credential call-or-subscript
docs/topics/auth/customizing.txt:157 generic-credential doc-hash
docs/topics/auth/customizing.txt:227 generic-credential multiline-key
docs/topics/auth/customizing.txt:246 generic-credential multiline-key
docs/topics/db/managers.txt:159 generic-credential auth-in-word
tests/admin_filters/tests.py:1193 generic-credential auth-in-word
tests/admin_filters/tests.py:1298 generic-credential auth-in-word
tests/admin_filters/tests.py:1307 generic-credential auth-in-word
tests/aggregation/tests.py:215 generic-credential auth-in-word
tests/aggregation/tests.py:645 generic-credential auth-in-word
tests/aggregation_regress/tests.py:495 generic-credential auth-in-word
tests/auth_tests/fixtures/natural.json:27 generic-credential test-hash
tests/auth_tests/fixtures/regular.json:25 generic-credential test-hash
tests/auth_tests/test_remote_user.py:56 generic-credential call-or-subscript
tests/auth_tests/urls.py:220 generic-credential auth-in-word
tests/csrf_tests/tests.py:41 generic-credential test-key
tests/csrf_tests/tests.py:42 generic-credential test-key
tests/decorators/test_csrf.py:13 generic-credential test-key
tests/filtered_relation/models.py:41 generic-credential auth-in-word
tests/filtered_relation/tests.py:92 generic-credential auth-in-word
tests/filtered_relation/tests.py:122 generic-credential auth-in-word
tests/filtered_relation/tests.py:144 generic-credential auth-in-word
tests/filtered_relation/tests.py:563 generic-credential auth-in-word
tests/filtered_relation/tests.py:701 generic-credential auth-in-word
tests/filtered_relation/tests.py:734 generic-credential auth-in-word
tests/filtered_relation/tests.py:952 generic-credential auth-in-word
tests/filtered_relation/tests.py:964 generic-credential auth-in-word
tests/filtered_relation/tests.py:967 generic-credential auth-in-word
tests/filtered_relation/tests.py:980 generic-credential auth-in-word
tests/gis_tests/gdal_tests/test_srs.py:360 generic-credential call-or-subscript
tests/schema/tests.py:2563 generic-credential auth-in-word
tests/view_tests/tests/test_debug.py:1862 django-secret-key test-key

sqlalchemy==2.0.36
PKG-INFO:7 generic-credential auth-in-word
README.unittests.rst:94 mssql-connection-url test-password
README.unittests.rst:97 mssql-connection-url test-password
README.unittests.rst:304 mssql-connection-url test-password
doc/build/changelog/changelog_13.rst:583 generic-credential auth-in-word
doc/build/changelog/migration_09.rst:573 generic-credential doc-password
doc/build/changelog/migration_09.rst:576 generic-credential doc-password
doc/build/conf.py:453 generic-credential auth-in-word
doc/build/core/engines.rst:96 postgres-connection-url doc-password
doc/build/core/engines.rst:110 postgres-connection-url doc-password
doc/build/core/pooling.rst:201 mssql-connection-url doc-test-password
doc/changelog/changelog_13.html:1324 generic-credential auth-in-word
doc/core/engines.html:400 postgres-connection-url doc-password
doc/core/pooling.html:560 mssql-connection-url doc-test-password
doc/dialects/mssql.html:911 mssql-connection-url doc-test-password
doc/dialects/mssql.html:2281 generic-credential auth-in-word
lib/SQLAlchemy.egg-info/PKG-INFO:7 generic-credential auth-in-word
lib/sqlalchemy/dialects/mssql/base.py:535 mssql-connection-url doc-test-password
lib/sqlalchemy/dialects/mssql/pyodbc.py:66 generic-credential auth-in-word
lib/sqlalchemy/dialects/mssql/pyodbc.py:82 generic-credential auth-in-word
setup.cfg:9 generic-credential auth-in-word
setup.cfg:160 mssql-connection-url test-password
setup.cfg:161 mssql-connection-url test-password
setup.cfg:162 mssql-connection-url test-password
setup.cfg:163 mssql-connection-url test-password
test/dialect/mssql/test_engine.py:174 generic-credential auth-in-word
test/dialect/mssql/test_engine.py:183 generic-credential auth-in-word

ansible-core==2.17.7
PKG-INFO:7 generic-credential auth-in-word
lib/ansible/galaxy/collection/gpg.py:274 generic-credential identifier
lib/ansible/galaxy/collection/gpg.py:275 generic-credential identifier
lib/ansible/module_utils/urls.py:843 generic-credential call-or-subscript
lib/ansible/modules/apt.py:93 generic-credential multiline-key
lib/ansible/modules/apt.py:1112 generic-credential identifier
lib/ansible/modules/expect.py:93 generic-credential doc-password
lib/ansible/modules/get_url.py:140 generic-credential multiline-key
lib/ansible/modules/get_url.py:148 generic-credential multiline-key
lib/ansible/modules/subversion.py:54 generic-credential multiline-key
lib/ansible/modules/uri.py:51 generic-credential multiline-key
lib/ansible/modules/uri.py:94 generic-credential multiline-key
lib/ansible/modules/user.py:408 generic-credential multiline-key
lib/ansible/modules/yum_repository.py:227 generic-credential multiline-key
lib/ansible/modules/yum_repository.py:246 generic-credential multiline-key
lib/ansible/plugins/connection/psrp.py:40 generic-credential multiline-key
lib/ansible/plugins/connection/psrp.py:77 generic-credential multiline-key
lib/ansible/plugins/connection/psrp.py:206 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url.py:44 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url.py:49 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:80 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:84 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:97 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:101 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:130 generic-credential multiline-key
lib/ansible/plugins/doc_fragments/url_windows.py:134 generic-credential multiline-key
lib/ansible/plugins/filter/password_hash.yml:32 generic-credential doc-hash
lib/ansible/plugins/lookup/url.py:33 generic-credential multiline-key
lib/ansible/plugins/lookup/url.py:78 generic-credential multiline-key
lib/ansible/vars/manager.py:83 generic-credential format-slot
lib/ansible_core.egg-info/PKG-INFO:7 generic-credential auth-in-word
setup.cfg:8 generic-credential auth-in-word
test/integration/targets/ansible-galaxy-collection/library/reset_pulp.py:31 generic-credential multiline-key
test/integration/targets/ansible-galaxy-collection/library/setup_collections.py:27 generic-credential multiline-key
test/integration/targets/become_unprivileged/setup_unpriv_users.yml:20 generic-credential test-password
test/integration/targets/become_unprivileged/setup_unpriv_users.yml:25 generic-credential test-hash
test/integration/targets/blockinfile/files/sshd_config:37 generic-credential multiline-key
test/integration/targets/connection_delegation/connection_plugins/delegation_connection.py:11 generic-credential multiline-key
test/integration/targets/git/vars/main.yml:53 pgp-private-key-block test-key
test/integration/targets/prepare_http_tests/library/httptester_kinit.py:18 generic-credential multiline-key
test/integration/targets/user/tasks/test_create_user_password.yml:5 generic-credential test-hash
test/integration/targets/user/tasks/test_create_user_password.yml:58 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock.yml:13 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock.yml:43 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock.yml:50 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock.yml:57 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock.yml:64 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock_new_user.yml:13 generic-credential test-hash
test/integration/targets/user/tasks/test_password_lock_new_user.yml:20 generic-credential test-hash
test/lib/ansible_test/_internal/ansible_util.py:294 generic-credential auth-in-word
test/lib/ansible_test/_internal/ci/azp.py:45 generic-credential call-or-subscript
test/lib/ansible_test/config/cloud-config-azure.ini.template:21 generic-credential multiline-key
test/lib/ansible_test/config/cloud-config-azure.ini.template:27 generic-credential multiline-key
test/support/network-integration/collections/ansible_collections/ansible/netcommon/plugins/connection/network_cli.py:65 generic-credential multiline-key
test/support/network-integration/collections/ansible_collections/ansible/netcommon/plugins/connection/network_cli.py:73 generic-credential multiline-key
test/support/windows-integration/collections/ansible_collections/ansible/windows/plugins/modules/win_uri.py:76 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_certificate_store.py:80 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_certificate_store.py:186 generic-credential doc-password
test/support/windows-integration/plugins/modules/win_get_url.py:85 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_get_url.py:95 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_get_url.py:107 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.ps1:83 generic-credential call-or-subscript
test/support/windows-integration/plugins/modules/win_user.ps1:85 generic-credential call-or-subscript
test/support/windows-integration/plugins/modules/win_user.ps1:86 generic-credential call-or-subscript
test/support/windows-integration/plugins/modules/win_user.ps1:87 generic-credential call-or-subscript
test/support/windows-integration/plugins/modules/win_user.ps1:88 generic-credential call-or-subscript
test/support/windows-integration/plugins/modules/win_user.py:39 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:43 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:51 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:57 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:63 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:170 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:175 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_user.py:190 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_whoami.ps1:222 generic-credential identifier
test/support/windows-integration/plugins/modules/win_whoami.py:42 generic-credential multiline-key
test/support/windows-integration/plugins/modules/win_whoami.py:198 generic-credential multiline-key
test/units/galaxy/test_role_requirements.py:74 git-credentials-url deploy-token
test/units/galaxy/test_role_requirements.py:75 git-credentials-url deploy-token
test/units/galaxy/test_role_requirements.py:82 git-credentials-url deploy-token
test/units/galaxy/test_role_requirements.py:83 git-credentials-url deploy-token
test/units/module_utils/basic/test_heuristic_log_sanitize.py:27 url-basic-auth-credentials test-url
test/units/module_utils/basic/test_heuristic_log_sanitize.py:28 generic-credential test-url
test/units/module_utils/urls/fixtures/client.key:2 pkcs8-private-key test-key

botocore==1.35.81
botocore/data/elasticbeanstalk/2010-12-01/examples-1.json:826 generic-credential doc-presigned-url
botocore/data/s3/2006-03-01/examples-1.json:1178 generic-credential pagination-token
botocore/data/storagegateway/2013-06-30/examples-1.json:166 generic-credential pagination-token
tests/functional/test_credentials.py:573 generic-credential cache-key
tests/functional/test_credentials.py:632 generic-credential cache-key
tests/functional/test_s3express.py:30 generic-credential test-key
tests/functional/test_s3express.py:46 generic-credential-xml test-key
tests/unit/auth/aws4_testsuite/get-vanilla-with-session-token/get-vanilla-with-session-token.creq:6 generic-credential test-key
tests/unit/auth/aws4_testsuite/get-vanilla-with-session-token/get-vanilla-with-session-token.sreq:4 generic-credential test-key
tests/unit/auth/test_signers.py:45 generic-credential test-key
tests/unit/response_parsing/xml/responses/ec2-cancel-reserved-instances-listing.json:43 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ec2-cancel-reserved-instances-listing.xml:62 generic-credential-xml pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-instances.json:111 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-instances.xml:134 generic-credential-xml pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-reserved-instances-offerings.json:5 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-reserved-instances-offerings.xml:46 generic-credential-xml pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-spot-price-history.json:5 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ec2-describe-spot-price-history.xml:7006 generic-credential-xml pagination-token
tests/unit/response_parsing/xml/responses/ses-get-identity-verification-attributes.json:7 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ses-get-identity-verification-attributes.xml:8 generic-credential-xml pagination-token
tests/unit/response_parsing/xml/responses/ses-verify-domain-identity.json:2 generic-credential pagination-token
tests/unit/response_parsing/xml/responses/ses-verify-domain-identity.xml:3 generic-credential-xml pagination-token
tests/unit/test_auth_bearer.py:24 generic-credential test-key
tests/unit/test_auth_bearer.py:38 generic-credential test-key
tests/unit/test_credentials.py:3648 generic-credential cache-key
tests/unit/test_handlers.py:971 generic-credential pagination-token
"""


def _parse_verdicts(text: str) -> dict[tuple[str, str, int, str], str]:
    out: dict[tuple[str, str, int, str], str] = {}
    corpus = ""
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        if " " not in line:
            corpus = line.strip()
            continue
        where, rule, cls = line.split()
        path, _, lineno = where.rpartition(":")
        if cls not in CLASSES:
            raise SystemExit(f"precision.py: unknown class {cls!r} for {where}")
        out[(corpus, path, int(lineno), rule)] = cls
    return out


VERDICTS = _parse_verdicts(_V)


@dataclass(frozen=True)
class Row:
    """One finding, without its secret."""

    path: str
    line: int
    rule: str
    confidence: str
    context_confidence: str | None
    """After nhiscan.engine.context.adjust_confidence; None: dropped."""


def scan_worktree(tree: Path) -> list[Row]:
    """Scan with the rules and engine of this checkout, in-process (secrets stay in memory)."""
    sys.path.insert(0, str(REPO))
    from nhiscan.config import Config
    from nhiscan.engine.context import adjust_confidence
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner, scan_paths

    config = Config()
    ruleset = build_ruleset(config)
    options = EngineOptions()
    scanner = build_scanner(ruleset, options)
    report = scan_paths(
        [str(tree)], config=config, ruleset=ruleset, scanner=scanner, options=options,
        jobs=os.cpu_count() or 1, no_ignore=True,
    )
    rows = []
    for f in report.findings:
        adjusted = adjust_confidence(ruleset.by_id[f.rule_id], f.path, f.secret)
        rows.append(
            Row(
                path=f.path, line=f.line, rule=f.rule_id, confidence=f.confidence.value,
                context_confidence=adjusted.value if adjusted is not None else None,
            )
        )
    return rows


def scan_revision(rev: str, tree: Path, workdir: Path) -> list[Row]:
    """Scan with the package and rules of a git revision, through its CLI (JSON, redacted)."""
    src = workdir / f"rev-{rev}"
    if not src.exists():
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", rev, "nhiscan", "rules"],
            check=True, capture_output=True,
        ).stdout
        src.mkdir(parents=True)
        tar_path = workdir / f"rev-{rev}.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tf:
            tf.extractall(src, filter="data")
    empty = workdir / "empty.toml"
    empty.write_text("")
    out = workdir / "report.json"
    env = dict(os.environ, PYTHONPATH=str(src), NHISCAN_CACHE_DIR=str(workdir / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "nhiscan", "scan", "--no-ignore", "-q", "--config", str(empty),
         "--format", "json", "-o", str(out), str(tree)],
        env=env, capture_output=True, text=True, cwd=workdir,  # not the checkout: it would shadow
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{rev}: nhiscan failed: {proc.stderr.strip()}")
    doc = json.loads(out.read_text())
    return [
        Row(path=f["path"], line=f["line"], rule=f["rule_id"], confidence=f.get("confidence", "?"),
            context_confidence=None)
        for f in doc["findings"]
    ]


def verdict_of(corpus: str, row: Row) -> str:
    cls = VERDICTS.get((corpus, row.path, row.line, row.rule))
    return CLASSES[cls][0] if cls else "untriaged"


def _table(title: str, counts: dict[str, collections.Counter[str]], columns: list[str]) -> str:
    keys = sorted({k for c in counts.values() for k in c})
    lines = [f"| {title} | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(str(counts[c][k]) for c in columns) + " |")
    lines.append("| **total** | " + " | ".join(str(sum(counts[c].values())) for c in columns) + " |")
    return "\n".join(lines)


def report(corpora: list[str], ref: str | None, listing: bool, check: bool) -> int:
    untriaged = 0
    with tempfile.TemporaryDirectory(prefix="nhiscan-precision-") as tmp:
        for spec in corpora:
            tree = tree_for(spec)
            now = scan_worktree(tree)
            before = scan_revision(ref, tree, Path(tmp)) if ref else []
            print(f"\n### {spec}\n")
            by_rule: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            by_verdict: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            cols = ([f"before ({ref})"] if ref else []) + ["after", "after, with context"]
            for label, rows in ((f"before ({ref})", before), ("after", now)):
                if label.startswith("before") and not ref:
                    continue
                for r in rows:
                    by_rule[label][r.rule] += 1
                    by_verdict[label][verdict_of(spec, r)] += 1
            for r in now:
                if r.context_confidence is not None:
                    by_rule["after, with context"][r.rule] += 1
                    by_verdict["after, with context"][verdict_of(spec, r)] += 1
            print(_table("rule", by_rule, cols) + "\n")
            print(_table("verdict", by_verdict, cols) + "\n")
            conf = collections.Counter(r.context_confidence or "dropped" for r in now)
            print("after, with context, by confidence: " + ", ".join(f"{k} {v}" for k, v in sorted(conf.items())) + "\n")
            for r in now:
                if (spec, r.path, r.line, r.rule) not in VERDICTS:
                    untriaged += 1
                    print(f"UNTRIAGED {r.path}:{r.line} {r.rule}")
            if listing:
                print("| path:line | rule | verdict (class) | confidence after | with context |")
                print("| --- | --- | --- | --- | --- |")
                kept = {(r.path, r.line, r.rule): r for r in now}
                keys = {(r.path, r.line, r.rule) for r in before} | set(kept)
                for path, line, rule in sorted(keys):
                    cls = VERDICTS.get((spec, path, line, rule), "")
                    verdict = f"{CLASSES[cls][0]} ({cls})" if cls else "untriaged"
                    r = kept.get((path, line, rule))
                    after = r.confidence if r else "not reported"
                    ctx = (r.context_confidence or "dropped") if r else "-"
                    print(f"| `{path}:{line}` | {rule} | {verdict} | {after} | {ctx} |")
    return 1 if check and untriaged else 0


# -- the letter-pair table of nhiscan.engine.placeholders -------------------------------------

def bigrams() -> int:
    """Print ``_BIGRAM_LEVELS`` from English prose and Python identifiers (Django, SQLAlchemy)."""
    counts: collections.Counter[str] = collections.Counter()
    word = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
    sources = [
        (tree_for("django==5.1.4") / "docs", ".txt"),
        (tree_for("django==5.1.4") / "django", ".py"),
        (tree_for("sqlalchemy==2.0.36") / "lib", ".py"),
    ]
    for root, ext in sources:
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if name.endswith(ext):
                    text = Path(dirpath, name).read_text(encoding="utf-8", errors="ignore")
                    for w in word.findall(text):
                        w = w.lower()
                        counts.update(a + b for a, b in zip(w, w[1:]))
    total = sum(counts.values())
    letters = "abcdefghijklmnopqrstuvwxyz"
    for a in letters:
        row = ""
        for b in letters:
            f = counts[a + b] / total
            row += str(0 if f <= 0 else max(0, min(9, math.floor(2 * math.log10(f) + 12))))
        print(f'    "{row}"  # {a}')
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs="?", choices=["report", "bigrams"], default="report")
    ap.add_argument("--ref", help="also scan with the nhiscan of this git revision (before/after)")
    ap.add_argument("--spec", action="append", help="corpora (default: the three triaged ones)")
    ap.add_argument("--extra", action="store_true", help="also scan the extra corpora (botocore)")
    ap.add_argument("--list", action="store_true", help="list every finding with its verdict")
    ap.add_argument("--check", action="store_true", help="exit 1 if a finding has no verdict")
    args = ap.parse_args()
    if args.command == "bigrams":
        return bigrams()
    corpora = args.spec or (CORPORA + (EXTRA_CORPORA if args.extra else []))
    return report(corpora, args.ref, args.list, args.check)


if __name__ == "__main__":
    raise SystemExit(main())
