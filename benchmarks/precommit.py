"""Pre-commit benchmark: a one-file staged change, interpreter start included.

    python benchmarks/precommit.py [--repeat 10]

Compares ``nhiscan scan --staged`` with ``betterleaks git --staged`` and ``detect-secrets-hook``
on the same commit, as ratios. Bytecode is allowed to be cached, as it is after a pip install.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, machine, nhiscan_exe, peer, print_ratios  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    repo = Path(tempfile.mkdtemp(prefix="nhiscan-precommit-"))
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("config", "user.email", "bench@example.com")
    run("config", "user.name", "bench")
    src = repo / "app.py"
    src.write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(200)))
    run("add", ".")
    run("commit", "-qm", "init")
    with src.open("a") as fh:
        fh.write("\ndef g(y):\n    return y * 2\n")
    run("add", "app.py")
    nh = nhiscan_exe()
    subprocess.run([nh, "scan", "--staged", "-q"], cwd=repo, env=env, capture_output=True)  # warm caches
    results = [best_of(args.repeat, "nhiscan scan --staged", [nh, "scan", "--staged", "-q"], cwd=repo, env=env)]
    bl = peer("betterleaks")
    if bl:
        results.append(best_of(args.repeat, "betterleaks git --staged", [bl, "git", "--staged", "--no-banner", "-l", "error", "."], cwd=repo, env=env))
    ds = peer("detect-secrets-hook")
    if ds:
        results.append(best_of(args.repeat, "detect-secrets-hook", [ds, "app.py"], cwd=repo, env=env))
    print(f"# {datetime.date.today()}  {machine()}")
    print_ratios(results, digits=3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
