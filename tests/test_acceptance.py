"""Issue 2's acceptance: a tree of planted credentials in many file types, and look-alikes."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import uuid
from pathlib import Path

from tests.tokens import generic_password, github_classic_pat, rand

B62 = string.ascii_letters + string.digits


def _lookalike_files(root: Path) -> None:
    sha1 = [hashlib.sha1(secrets.token_bytes(8)).hexdigest() for _ in range(5)]
    sha256 = [hashlib.sha256(secrets.token_bytes(8)).hexdigest() for _ in range(5)]
    integrity = [
        "sha512-" + base64.b64encode(hashlib.sha512(secrets.token_bytes(8)).digest()).decode() for _ in range(5)
    ]
    (root / "ids.py").write_text(
        "".join(f'REQUEST_ID = "{uuid.uuid4()}"\nsession_uuid = "{uuid.uuid4()}"\n' for _ in range(5))
    )
    (root / "CHANGELOG.md").write_text("".join(f"* fix parser (commit {s})\n" for s in sha1))
    (root / "SHA256SUMS").write_text("".join(f"{h}  dist/pkg-{i}.tar.gz\n" for i, h in enumerate(sha256)))
    (root / "package-lock.json").write_text(json.dumps({
        "lockfileVersion": 3,
        "packages": {f"node_modules/p{i}": {"version": "1.0.0", "resolved": f"https://registry.npmjs.org/p{i}/-/p{i}-1.0.0.tgz", "integrity": v}
                     for i, v in enumerate(integrity)},
    }, indent=2))
    (root / "go.sum").write_text("".join(
        f"github.com/acme/mod{i} v1.{i}.0 h1:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"
        f"github.com/acme/mod{i} v1.{i}.0/go.mod h1:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"
        for i in range(5)
    ))
    png = base64.b64encode(secrets.token_bytes(300)).decode()
    (root / "page.html").write_text(f'<img src="data:image/png;base64,{png}">\n<a href="https://example.com/?token={{{{ token }}}}">x</a>\n')
    (root / "settings.example.env").write_text(
        "API_KEY=<your-api-key>\nDB_PASSWORD=${DB_PASSWORD}\nSECRET_KEY=changeme\n"
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        "password: '{{ vault_password }}'\ntoken = os.environ.get('TOKEN')\n"
    )
    (root / "k8s.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  checksum: " + sha256[0] + "\n  image: app@sha256:" + sha256[1] + "\n")


def test_lookalikes_are_not_reported(cli, tmp_path: Path) -> None:
    _lookalike_files(tmp_path)
    r = cli("scan", str(tmp_path), "--format", "json")
    doc = json.loads(r.out)
    assert doc["findings"] == [], [(f["path"], f["line"], f["rule_id"]) for f in doc["findings"]]
    assert r.code == 0


def _planted(root: Path) -> dict[tuple[str, int], str]:
    """Credentials planted in code, config, .env, YAML, JSON, shell, Terraform and a notebook.
    Returns {(path, line): secret}."""
    gh = [github_classic_pat() for _ in range(3)]
    pw = [generic_password() for _ in range(6)]
    pg = rand(20)
    files = {
        "src/app.py": ("import os\n\nGITHUB_TOKEN = \"%s\"\n" % gh[0], {3: gh[0]}),
        "config/settings.yaml": ("db:\n  host: db.internal\n  password: \"%s\"\n" % pw[0], {3: pw[0]}),
        ".env": ("DEBUG=1\nAPI_KEY=%s\n" % pw[1], {2: pw[1]}),
        "config.json": (json.dumps({"service": {"client_secret": pw[2]}}, indent=2) + "\n", {3: pw[2]}),
        "deploy.sh": ("#!/bin/sh\nexport DEPLOY_TOKEN=%s\ncurl -H \"Authorization: token %s\" https://api.github.com\n" % (pw[3], gh[1]), {2: pw[3], 3: gh[1]}),
        "infra/main.tf": ('resource "aws_db_instance" "db" {\n  username = "app"\n  password = "%s"\n}\n' % pw[4], {3: pw[4]}),
        "db.py": ('URL = "postgresql://app:%s@db.example.net:5432/app"\n' % pg, {1: pg}),
    }
    cell = {"cells": [{"cell_type": "code", "source": ["import requests\n", f"token = \"{gh[2]}\"\n"], "metadata": {}, "outputs": []}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    files["notebooks/explore.ipynb"] = (json.dumps(cell, indent=1) + "\n", {})
    expected: dict[tuple[str, int], str] = {}
    for name, (text, lines) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for line, secret in lines.items():
            expected[(name, line)] = secret
    nb_text = files["notebooks/explore.ipynb"][0]
    nb_line = next(i for i, l in enumerate(nb_text.splitlines(), 1) if gh[2] in l)
    expected[("notebooks/explore.ipynb", nb_line)] = gh[2]
    return expected


def test_planted_credentials_found_at_their_lines(cli, tmp_path: Path) -> None:
    expected = _planted(tmp_path)
    _lookalike_files(tmp_path)
    r = cli("scan", str(tmp_path), "--format", "json", "--show-secrets")
    assert r.code == 1
    got = {(f["path"], f["line"]): f["secret"] for f in json.loads(r.out)["findings"]}
    missing = {k: v for k, v in expected.items() if got.get(k) != v}
    assert not missing, f"not found at their lines: {sorted(missing)}; got {sorted(got)}"
    assert set(got) == set(expected), f"unexpected: {sorted(set(got) - set(expected))}"
