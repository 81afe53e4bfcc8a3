"""The project as a whole: it scans itself clean, keeps its layers, ships its rules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_project_scans_itself_clean(cli) -> None:
    r = cli("scan", str(ROOT), "--format", "json")
    assert r.code == 0, r.out[:2000] + r.err


def test_layers_are_respected() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (it comes with the test extra)")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_installed_console_script_finds_its_rules(tmp_path: Path) -> None:
    """From any folder, the installed ``nhiscan`` loads the packs shipped inside the package."""
    exe = Path(sys.executable).parent / "nhiscan"
    if not exe.exists():
        pytest.skip("no console script next to this interpreter")
    proc = subprocess.run([str(exe), "rules", "list", "--format", "json"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import json

    assert len(json.loads(proc.stdout)) >= 80


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    command = "pip install '.[test]' && python -m pytest -q"
    assert command in readme and command in ci


def test_package_is_strictly_typed() -> None:
    """mypy --strict over nhiscan/ (configured in pyproject.toml)."""
    try:
        from mypy import api
    except ImportError:
        pytest.skip("mypy is not installed (it comes with the test extra)")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "nhiscan")])
    assert status == 0, out[-4000:] + err[-1000:]


def test_the_delta_module_is_built_where_a_compiler_is() -> None:
    """hatch_build.py compiles nhiscan/_packdelta.c at install; only without a C toolchain may
    it be missing (history sweeps then read every blob through git cat-file)."""
    import shlex
    import sysconfig

    ldshared = sysconfig.get_config_var("LDSHARED")
    if not ldshared or shutil.which(shlex.split(ldshared)[0]) is None:
        pytest.skip("no C compiler here: the module is optional")
    from nhiscan.engine.native import delta_module

    # (None also when the module was built from an older _packdelta.c: rebuild it with
    # `pip install -e .`.)
    assert delta_module() is not None
