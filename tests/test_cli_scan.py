"""``nhiscan scan`` as a user meets it: exit codes, report shapes, no raw secret by default."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nhiscan.reporters import ScanFormat, renderer_for
from tests.conftest import git, run_subprocess
from tests.tokens import generic_password


def plant(folder: Path, name: str = "settings.py") -> str:
    pw = generic_password()
    (folder / name).write_text(f'import os\n\nDB_PASSWORD = "{pw}"\n')
    return pw


def test_clean_tree_exits_0(cli, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print('hello')\n")
    r = cli("scan", str(tmp_path))
    assert r.code == 0, r.err
    assert "0 findings" in r.out


def test_finding_exits_1_with_location_and_redaction(cli, tmp_path: Path) -> None:
    pw = plant(tmp_path)
    r = cli("scan", str(tmp_path))
    assert r.code == 1
    assert "settings.py:3:16: generic-credential" in r.out
    assert pw not in r.out + r.err


def test_missing_path_is_one_line_exit_2(cli, tmp_path: Path) -> None:
    r = cli("scan", str(tmp_path / "nope"))
    assert r.code == 2
    assert r.err.count("\n") == 1 and "nope: no such file or directory" in r.err


def test_unknown_option_is_one_line_exit_2(cli) -> None:
    r = cli("scan", "--frobnicate")
    assert r.code == 2 and r.err.count("\n") == 1


@pytest.mark.parametrize("fmt", [f.value for f in ScanFormat])
def test_no_raw_secret_in_any_format(cli, tmp_path: Path, fmt: str) -> None:
    pw = plant(tmp_path)
    out = tmp_path / "report.out"
    r = cli("scan", str(tmp_path), "--format", fmt, "-o", str(out), "--verbose")
    assert r.code == 1
    body = out.read_text()
    assert pw not in body and pw not in r.out and pw not in r.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_show_secrets_prints_the_value(cli, tmp_path: Path) -> None:
    pw = plant(tmp_path)
    r = cli("scan", str(tmp_path), "--show-secrets", "--format", "json")
    assert json.loads(r.out)["findings"][0]["secret"] == pw


def test_json_report_shape(cli, tmp_path: Path) -> None:
    pw = plant(tmp_path)
    r = cli("scan", str(tmp_path), "--format", "json")
    doc = json.loads(r.out)
    assert doc["version"] == 1 and doc["tool"]["name"] == "nhiscan"
    (f,) = doc["findings"]
    assert f["path"] == "settings.py"
    assert (f["line"], f["column"], f["end_line"], f["end_column"]) == (3, 16, 3, 16 + len(pw))
    assert f["secret"].endswith(f"({len(pw)} chars)")
    assert len(f["secret_sha256"]) == 64 and len(f["fingerprint"]) == 64
    assert f["commit"] is None and f["author"] is None
    assert f["nhi"]["kind"] == "generic-credential" and f["nhi"]["id"].startswith("nhi-")
    assert "A.5.17" in f["controls"] and "A.8.28" in f["controls"]
    assert {"files", "bytes", "seconds"} <= set(doc["stats"])


def test_fingerprint_survives_line_moves(cli, tmp_path: Path) -> None:
    pw = generic_password()
    (tmp_path / "a.py").write_text(f'token = "{pw}"\n')
    first = json.loads(cli("scan", str(tmp_path), "--format", "json").out)["findings"][0]
    (tmp_path / "a.py").write_text(f'\n\n\n    token  =  "{pw}"\n')
    second = json.loads(cli("scan", str(tmp_path), "--format", "json").out)["findings"][0]
    assert first["line"] != second["line"]
    assert first["fingerprint"] == second["fingerprint"]


def test_gitignored_files_are_skipped_unless_no_ignore(cli, git_tree: Path) -> None:
    (git_tree / ".gitignore").write_text("secret.env\n")
    plant(git_tree, "secret.env")
    assert cli("scan", str(git_tree)).code == 0
    assert cli("scan", str(git_tree), "--no-ignore").code == 1


def test_binary_and_large_files_skipped_with_warning(cli, tmp_path: Path) -> None:
    pw = generic_password()
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" + f'password = "{pw}"'.encode())
    (tmp_path / "big.txt").write_text("x" * 2048 + f'\npassword = "{pw}"\n')
    r = cli("scan", str(tmp_path), "--max-file-size", "1KB", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["stats"]["skipped"] == {"binary": 1, "too_large": 1}
    assert "big.txt" in r.err and "binary" in r.err


def test_bad_max_file_size(cli, tmp_path: Path) -> None:
    r = cli("scan", str(tmp_path), "--max-file-size", "lots")
    assert r.code == 2 and "lots" in r.err


def test_symlinks_out_of_tree_and_loops_not_followed(cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    plant(outside)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside / "settings.py")
    (tree / "dirlink").symlink_to(outside)
    (tree / "loop").symlink_to(tree / "loop")
    r = cli("scan", str(tree), "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["stats"]["skipped"]["symlink"] == 3
    assert "link" in r.err


def test_fifo_is_never_opened(cli, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    plant(tmp_path)
    r = cli("scan", str(tmp_path), "--format", "json")  # would hang if the FIFO were opened
    assert r.code == 1
    assert json.loads(r.out)["stats"]["skipped"] == {"special": 1}


def test_unreadable_file_exit_2_and_report_still_written(cli, tmp_path: Path, monkeypatch) -> None:
    plant(tmp_path)
    (tmp_path / "locked.txt").write_text("hidden\n")
    real_open = os.open

    def fake_open(path, flags, *a, **k):  # root ignores chmod 000, so fail the open itself
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    out = tmp_path / "r.json"
    r = cli("scan", str(tmp_path), "--format", "json", "-o", str(out))
    assert r.code == 2
    assert "locked.txt: Permission denied" in r.err
    doc = json.loads(out.read_text())
    assert len(doc["findings"]) == 1 and doc["errors"][0]["path"] == "locked.txt"


def test_undecodable_file_names(cli, tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9 new\nline.py")
    pw = generic_password()
    with open(os.path.join(os.fsencode(tmp_path), os.fsencode(name)), "w") as fh:
        fh.write(f'secret = "{pw}"\n')
    r = cli("scan", str(tmp_path), "--format", "json")
    assert r.code == 1
    assert json.loads(r.out)["findings"][0]["path"] == "caf\\xe9 new\nline.py"


def test_many_tiny_files(cli, tmp_path: Path) -> None:
    for i in range(3000):
        (tmp_path / f"f{i}.txt").write_text(f"value {i}\n")
    pw = plant(tmp_path)
    r = cli("scan", str(tmp_path), "--format", "json", "--jobs", "2")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["stats"]["files"] == 3001 and pw not in r.out


def test_parallel_and_serial_agree(cli, tmp_path: Path, monkeypatch) -> None:
    from nhiscan import scan as scan_module

    monkeypatch.setattr(scan_module, "_PARALLEL_MIN_BYTES", 0)  # force the process pool
    for i in range(40):
        (tmp_path / f"big{i}.txt").write_text(("filler line\n" * 25000) + f'token = "{generic_password()}"\n')
    serial = json.loads(cli("scan", str(tmp_path), "--format", "json", "--jobs", "1").out)
    parallel = json.loads(cli("scan", str(tmp_path), "--format", "json", "--jobs", "2").out)
    assert len(serial["findings"]) == 40
    assert serial["findings"] == parallel["findings"]


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    plant(tmp_path)
    proc = run_subprocess("scan", str(tmp_path), "-q")
    assert proc.returncode == 1 and "generic-credential" in proc.stdout


def test_every_format_has_a_renderer() -> None:
    for fmt in ScanFormat:
        assert callable(renderer_for(fmt))


def test_every_registered_command_imports() -> None:
    import importlib

    import click

    from nhiscan.cli.main import COMMANDS

    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        try:
            cmd = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError:
            pytest.skip(f"{module} not written yet")
        assert isinstance(cmd, click.Command), name


def test_output_to_a_device_or_fifo_writes_into_it(cli, tmp_path: Path) -> None:
    """``-o /dev/null`` must not replace the device with a regular file (as root it could)."""
    import threading

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    r = cli("scan", str(tmp_path), "--format", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert r.code in (0, 1)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["version"] == 1
    r = cli("scan", str(tmp_path), "-q", "-o", os.devnull)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_allow_unreadable_turns_read_errors_into_warnings(cli, tmp_path: Path, monkeypatch) -> None:
    plant(tmp_path)
    (tmp_path / "locked.txt").write_text("hidden\n")
    real_open = os.open

    def fake_open(path, flags, *a, **k):
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    r = cli("scan", str(tmp_path), "--allow-unreadable")
    assert r.code == 1 and "locked.txt: Permission denied" in r.err
