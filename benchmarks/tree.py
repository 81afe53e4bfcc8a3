"""Working-tree benchmark: nhiscan against the peers on real source trees, side by side.

    python benchmarks/tree.py [--spec sqlalchemy==2.0.36 --spec django==5.1.4] [--path DIR] [--repeat 3]

``--path benchmarks/.corpus/trees`` scans every tree unpacked so far together (292 MB after
the specs in benchmarks/README.md).

Prints MB/s, files/s and peak RSS for each tool, and each peer's time as a ratio of nhiscan's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, install_peers, machine, nhiscan_exe, peer, tree_for, tree_size  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", action="append", default=None, help="PyPI sdist to use as a corpus")
    ap.add_argument("--path", action="append", default=[], help="a folder to use as a corpus, as it is")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--install-peers", action="store_true", help="install the peers into benchmarks/.corpus")
    ap.add_argument("--skip-detect-secrets", action="store_true", help="detect-secrets takes minutes")
    args = ap.parse_args()
    specs = args.spec or ([] if args.path else ["sqlalchemy==2.0.36"])
    if args.install_peers:
        install_peers()
    print(f"# {datetime.date.today()}  {machine()}")
    corpora = [(spec, tree_for(spec)) for spec in specs] + [(p, Path(p)) for p in args.path]
    for spec, tree in corpora:
        files, size = tree_size(tree)
        mb = size / 1e6
        print(f"\n## {spec}: {files} files, {mb:.1f} MB")
        cache = tempfile.mkdtemp(prefix="nhiscan-bench-cache-")
        env = dict(os.environ, NHISCAN_CACHE_DIR=cache)
        nh = nhiscan_exe()
        # Warm the compiled-database cache once (a cached database is the normal case).
        best_of(1, "warm", [nh, "scan", "--no-ignore", "-q", str(tree)], env=env)
        results = [
            best_of(args.repeat, "nhiscan", [nh, "scan", "--no-ignore", "-q", "-o", os.devnull, str(tree)], env=env),
            best_of(args.repeat, "nhiscan --jobs 1", [nh, "scan", "--no-ignore", "-q", "--jobs", "1", "-o", os.devnull, str(tree)], env=env),
            best_of(args.repeat, "nhiscan (aho-corasick)", [nh, "scan", "--no-ignore", "-q", "--engine", "aho-corasick", "-o", os.devnull, str(tree)], env=env),
        ]
        bl = peer("betterleaks")
        if bl:
            results.append(best_of(args.repeat, "betterleaks", [bl, "fs", str(tree), "--no-banner", "-s", "--exit-code=0", "-l", "error"]))
        kf = peer("kingfisher")
        if kf:
            results.append(best_of(args.repeat, "kingfisher", [kf, "scan", str(tree), "--no-validate", "--no-update-check", "-q"] ))
        ds = peer("detect-secrets")
        if ds and not args.skip_detect_secrets:
            results.append(best_of(1, "detect-secrets", [ds, "scan", "--all-files", str(tree)]))
        base = results[0].seconds
        print(f"{'tool':<26}{'seconds':>9}{'MB/s':>9}{'files/s':>10}{'RSS MB':>9}{'x nhiscan':>11}  rc")
        for t in results:
            print(
                f"{t.tool:<26}{t.seconds:>9.2f}{mb / t.seconds:>9.1f}{files / t.seconds:>10.0f}"
                f"{t.max_rss_mb:>9.0f}{t.seconds / base:>11.2f}  {t.returncode}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
