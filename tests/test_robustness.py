"""Hostile and broken input: the scan finishes, says what it could not read, never leaks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiscan import scan as scan_module
from nhiscan.config import parse_config
from nhiscan.errors import NhiscanError
from nhiscan.rules import _parse_pack
from tests.tokens import generic_password, github_classic_pat


def test_large_file_scanned_in_chunks_like_whole(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunked scanning (bounded memory) finds what a whole-file scan finds, at the same places,
    including a secret straddling two chunks and a multi-line key."""
    secrets = [generic_password() for _ in range(40)]
    lines = []
    for i in range(6000):
        lines.append(f"line {i} of filler text, nothing to see here {i * 7}")
        if i % 150 == 75:
            lines.append(f'password = "{secrets[i // 150]}"')
    (tmp_path / "big.txt").write_text("\r\n".join(lines) + "\n")
    whole = json.loads(cli("scan", str(tmp_path), "--format", "json", "--jobs", "1").out)
    monkeypatch.setattr(scan_module, "CHUNK_BYTES", 20_000)
    monkeypatch.setattr(scan_module, "CARRY_BYTES", 2_000)
    chunked = json.loads(cli("scan", str(tmp_path), "--format", "json", "--jobs", "1").out)
    assert len(whole["findings"]) == 40
    assert chunked["findings"] == whole["findings"]


def test_huge_file_skipped_by_size_with_warning(cli, tmp_path: Path) -> None:
    with open(tmp_path / "huge.bin", "wb") as fh:  # sparse: 3 GB on disk costs nothing
        fh.truncate(3 * 1024**3)
    r = cli("scan", str(tmp_path), "--format", "json")
    assert r.code == 0
    assert json.loads(r.out)["stats"]["skipped"] == {"too_large": 1}
    assert "huge.bin" in r.err and "max-file-size" in r.err


def test_empty_files(cli, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"e{i}").write_bytes(b"")
    r = cli("scan", str(tmp_path), "--format", "json")
    assert r.code == 0 and json.loads(r.out)["stats"]["files"] == 5


def test_file_deleted_during_the_scan_is_skipped_and_named(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "gone.txt").write_text("x\n")
    (tmp_path / "kept.py").write_text(f'token = "{generic_password()}"\n')
    real_list = scan_module.list_files

    def list_then_delete(*a, **k):
        listing = real_list(*a, **k)
        (tmp_path / "gone.txt").unlink()
        return listing

    monkeypatch.setattr(scan_module, "list_files", list_then_delete)
    r = cli("scan", str(tmp_path), "--format", "json")
    assert r.code == 1
    assert "gone.txt: deleted during the scan" in r.err


def test_ctrl_c_exits_130_without_a_report(tmp_path: Path) -> None:
    big = tmp_path / "tree"
    big.mkdir()
    chunk = ("filler line with some words 0123456789\n" * 20000).encode()
    for i in range(60):
        (big / f"f{i}.txt").write_bytes(chunk)
    out = tmp_path / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nhiscan", "scan", str(big), "--jobs", "2", "--engine", "aho-corasick",
         "--format", "json", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode in (0, 1):
        pytest.skip("the scan finished before the interrupt arrived")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.json")]


def test_internal_error_is_one_line_without_the_secret(cli, tmp_path: Path, monkeypatch) -> None:
    token = github_classic_pat()
    (tmp_path / "a.py").write_text(f"t = '{token}'\n")

    def boom(*_a, **_k):
        raise RuntimeError(f"something broke near {token}")

    monkeypatch.setattr(scan_module, "scan_paths", boom)
    monkeypatch.delenv("NHISCAN_DEBUG", raising=False)
    r = cli("scan", str(tmp_path))
    assert r.code == 2
    assert r.err.count("\n") == 1 and "internal error" in r.err
    assert token not in r.err and "Traceback" not in r.err


TOML_VALUES = st.recursive(
    st.none().map(lambda _: "1") | st.integers().map(str) | st.booleans().map(lambda b: str(b).lower())
    | st.text(max_size=12).map(json.dumps),
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["rules", "allow", "scan", "extend", "disable", "paths", "regexes", "stopwords", "exclude",
     "max_file_size", "regex_timeout", "id", "regex", "keywords", "severity", "name", "provider",
     "nhi_kind", "secret_group", "min_entropy", "checksum", "examples", "x"]
)


@st.composite
def toml_docs(draw: st.DrawFn) -> str:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        header = draw(st.sampled_from(["", "[rules]", "[scan]", "[[allow]]", "[[rule]]", "[allow]", "[[rules]]"]))
        out.append(header)
        for _ in range(draw(st.integers(0, 5))):
            out.append(f"{draw(KEYS)} = {draw(TOML_VALUES)}")
    if draw(st.booleans()):
        out.append(draw(st.text(max_size=20)))
    return "\n".join(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(toml_docs())
def test_config_loader_never_crashes(text: str) -> None:
    from nhiscan import tomlcompat

    try:
        doc = tomlcompat.loads(text)
    except tomlcompat.TOMLDecodeError:
        return
    try:
        parse_config(doc, path=Path("fuzz.toml"), base=Path("."))
    except NhiscanError as exc:
        assert "fuzz.toml" in str(exc) and "\n" not in str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(toml_docs())
def test_rule_loader_never_crashes(text: str) -> None:
    try:
        _parse_pack(text, "fuzz-pack.toml")
    except NhiscanError as exc:
        assert "fuzz-pack.toml" in str(exc) and "\n" not in str(exc)


def test_atheris_fuzzes_the_engine_briefly() -> None:
    """Coverage-guided fuzzing of the engine with atheris, where it installs (a short run)."""
    pytest.importorskip("atheris")
    harness = Path(__file__).parent / "fuzz" / "fuzz_engine.py"
    proc = subprocess.run(
        [sys.executable, str(harness), "-runs=3000", "-max_len=2048"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
