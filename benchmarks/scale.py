"""Scale benchmark: does time grow linearly with bytes, and what do two cores give?

    python benchmarks/scale.py [--spec sqlalchemy==2.0.36] [--copies 1 2 4 8] [--repeat 3]

Builds a folder holding 1, 2, 4, ... copies of one real source tree (under
``benchmarks/.corpus/scale/``, ignored by git) and times ``nhiscan scan`` on each with one job and
with all cores. Prints seconds, MB/s and the two-core speed-up per size; linear growth shows as
a steady MB/s once the fixed start-up cost (interpreter, rule and database load) is small.

It also measures the machine's own ceiling: the speed-up of two processes doing nothing but
arithmetic over one doing both units in turn. On a shared virtual machine it is below 2x, and
nhiscan's speed-up is best read against it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CORPUS, best_of, machine, nhiscan_exe, tree_for, tree_size  # noqa: E402


def replicated(tree: Path, copies: int) -> Path:
    """A folder with ``copies`` copies of ``tree`` (hard links where the file system allows)."""
    target = CORPUS / "scale" / f"{tree.name}-x{copies}"
    if target.exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(copies):
        shutil.copytree(tree, tmp / f"copy{i}", copy_function=_link_or_copy)
    tmp.rename(target)
    return target


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _busy(_: int) -> int:
    x = 0
    for i in range(10_000_000):
        x += i
    return x


def parallel_ceiling(rounds: int = 6) -> float:
    """Best-of speed-up of ``cpu_count`` processes of pure arithmetic over one process."""
    import time
    from multiprocessing import Pool

    n = os.cpu_count() or 1
    serial, parallel = [], []
    with Pool(n) as pool:
        pool.map(_busy, range(n))
        for _ in range(rounds):
            t = time.perf_counter()
            for i in range(n):
                _busy(i)
            serial.append(time.perf_counter() - t)
            t = time.perf_counter()
            pool.map(_busy, range(n))
            parallel.append(time.perf_counter() - t)
    return min(serial) / min(parallel)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="sqlalchemy==2.0.36")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tree = tree_for(args.spec)
    nh = nhiscan_exe()
    env = dict(os.environ, NHISCAN_CACHE_DIR=tempfile.mkdtemp(prefix="nhiscan-bench-cache-"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"# {datetime.date.today()}  {machine()}")
    print(f"machine ceiling: {os.cpu_count()} processes of pure arithmetic run {parallel_ceiling():.2f}x as fast as one")
    print(f"\n## {args.spec} copied 1..{max(args.copies)} times")
    print(f"{'copies':>6}{'files':>8}{'MB':>8}{'1 job s':>9}{'MB/s':>8}{'all cores s':>13}{'MB/s':>8}{'speed-up':>10}")
    best_of(1, "warm", [nh, "scan", "--no-ignore", "-q", "-o", os.devnull, str(tree)], env=env)
    for n in args.copies:
        folder = replicated(tree, n)
        files, size = tree_size(folder)
        mb = size / 1e6
        base = [nh, "scan", "--no-ignore", "-q", "-o", os.devnull, str(folder)]
        one = best_of(args.repeat, "1 job", [*base, "--jobs", "1"], env=env)
        many = best_of(args.repeat, "all cores", base, env=env)
        print(
            f"{n:>6}{files:>8}{mb:>8.0f}{one.seconds:>9.2f}{mb / one.seconds:>8.0f}"
            f"{many.seconds:>13.2f}{mb / many.seconds:>8.0f}{one.seconds / many.seconds:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
