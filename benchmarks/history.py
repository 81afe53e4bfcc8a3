"""History benchmark: `nhiscan git` on a repository built from successive PyPI releases.

    python benchmarks/history.py [--package paramiko] [--versions 30] [--repeat 3]

Each release's sdist (cached in benchmarks/.corpus/sdists) becomes one commit (and a tag) of a
repository in benchmarks/.corpus/history/, so that files change a little from commit to
commit, as in a real history. Then, side by side on that repository:

* ``git cat-file --batch-all-objects --batch``: decompressing every object, the floor for any
  tool that reads every blob (``--unordered``, pack order, is shown too);
* ``git log -p -U0 --all``: producing every commit's patch, the floor for tools that scan
  added lines (gitleaks, betterleaks);
* ``nhiscan git`` (all cores and ``--jobs 1``; and with ``NHISCAN_READ_PACKS=0``, every blob
  read through ``git cat-file`` instead of from the pack files);
* with ``--replay``, the releases replayed one changed file at a time (a commit per file that
  changes from one release to the next: many more commits, the same blobs);
* with ``--edits N``, a ``dev`` branch of N more commits on top of the last release, each
  appending a line to a few files (and, every 500 commits, a fake generated token), for a
  history with many small commits as real projects have;
* ``betterleaks git`` when installed (``python benchmarks/tree.py --install-peers`` puts it
  in benchmarks/.corpus/peers-venv).

Times are best of ``--repeat``; the table gives each as a ratio of nhiscan's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CORPUS, Timing, best_of, extract, fetch_sdist, machine, nhiscan_exe, peer, print_ratios  # noqa: E402

HISTORY = CORPUS / "history"
_EPOCH = 1_600_000_000


def release_versions(package: str, count: int) -> list[str]:
    """The ``count`` latest final releases, oldest first (``pip index versions``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", package],
        capture_output=True, text=True, check=True,
    )
    m = re.search(r"Available versions:\s*(.+)", proc.stdout)
    if not m:
        raise SystemExit(f"{package}: pip index versions listed nothing")
    finals = [v.strip() for v in m.group(1).split(",") if re.fullmatch(r"\d+(\.\d+)*", v.strip())]
    return list(reversed(finals[:count]))


def _git(repo: Path, *args: str, epoch: int = _EPOCH) -> None:
    env = dict(os.environ)
    date = f"@{epoch} +0000"
    env.update(
        GIT_AUTHOR_NAME="Release Bot", GIT_AUTHOR_EMAIL="bot@example.test", GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_NAME="Release Bot", GIT_COMMITTER_EMAIL="bot@example.test", GIT_COMMITTER_DATE=date,
        GIT_CONFIG_NOSYSTEM="1",
    )
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, stdout=subprocess.DEVNULL)


def _start_repo(repo: Path, versions: list[str]) -> bool:
    """A fresh empty repository at ``repo``; False (left as it is) when it already holds
    these releases."""
    stamp = repo / ".git" / "nhiscan-bench-versions"
    if stamp.exists() and stamp.read_text() == "\n".join(versions):
        return False
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "commit.gpgsign", "false")
    return True


def build_history(package: str, versions: list[str]) -> Path:
    """One commit per release; reused when it already holds these releases."""
    repo = HISTORY / f"{package}-{len(versions)}"
    stamp = repo / ".git" / "nhiscan-bench-versions"
    if not _start_repo(repo, versions):
        return repo
    with tempfile.TemporaryDirectory(prefix="nhiscan-bench-") as tmp:
        for i, version in enumerate(versions):
            try:
                archive = fetch_sdist(f"{package}=={version}")
            except (subprocess.CalledProcessError, SystemExit) as exc:
                print(f"  skipping {package} {version}: {exc}", file=sys.stderr)
                continue
            tree = extract(archive, Path(tmp) / version)
            for entry in repo.iterdir():
                if entry.name == ".git":
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            for entry in tree.iterdir():
                target = repo / entry.name
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, target, symlinks=True)
                else:
                    shutil.copy2(entry, target, follow_symlinks=False)
            _git(repo, "add", "-A", "-f")
            _git(repo, "commit", "-q", "--allow-empty", "-m", f"{package} {version}", epoch=_EPOCH + 86400 * i)
            _git(repo, "tag", f"v{version}")
    _git(repo, "gc", "-q")
    stamp.write_text("\n".join(versions))
    return repo


def _sdist_files(archive: Path) -> dict[str, tuple[str, bytes]]:
    """path -> (git file mode, content) of a release's files (its top folder stripped)."""
    import tarfile
    import zipfile

    files: dict[str, tuple[str, bytes]] = {}
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir() and "/" in info.filename:
                    files[info.filename.split("/", 1)[1]] = ("100644", zf.read(info))
        return files
    with tarfile.open(archive) as tf:
        for member in tf:
            if "/" not in member.name:
                continue
            path = member.name.split("/", 1)[1]
            if member.isreg():
                fh = tf.extractfile(member)
                assert fh is not None
                files[path] = ("100755" if member.mode & 0o111 else "100644", fh.read())
            elif member.issym():
                files[path] = ("120000", member.linkname.encode())
    return files


def build_replay(package: str, versions: list[str]) -> Path:
    """The releases replayed one changed file at a time: a commit for each file that differs
    from the release before (added, changed or deleted), a tag per release, as a project's
    many small commits bring them (the 50 of SQLAlchemy's 60 latest releases that download here
    give 17,662 commits; its real history has some 24,000). The same blobs as
    :func:`build_history`'s repository, many more commits and trees; built with git
    fast-import, reused when it holds these releases."""
    import hashlib

    repo = HISTORY / f"{package}-{len(versions)}-replay"
    stamp = repo / ".git" / "nhiscan-bench-versions"
    if not _start_repo(repo, versions):
        return repo
    proc = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    previous: dict[str, tuple[str, bytes]] = {}  # path -> (mode, sha1 of the content)
    mark = 0

    def commit(change: bytes, message: str) -> None:
        nonlocal mark
        mark += 1
        msg = message.encode()
        head = b"commit refs/heads/main\nmark :%d\n" % mark
        head += f"committer Dev <dev@example.test> {_EPOCH + 600 * mark} +0000\n".encode()
        head += b"data %d\n%s\n" % (len(msg), msg)
        proc.stdin.write(head + change + b"\n")  # type: ignore[union-attr]

    for version in versions:
        try:
            archive = fetch_sdist(f"{package}=={version}")
        except (subprocess.CalledProcessError, SystemExit) as exc:
            print(f"  skipping {package} {version}: {exc}", file=sys.stderr)
            continue
        files = _sdist_files(archive)
        for path in sorted(files):
            mode, data = files[path]
            digest = hashlib.sha1(data).digest()
            if previous.get(path) != (mode, digest):
                previous[path] = (mode, digest)
                commit(f"M {mode} inline {path}\n".encode() + b"data %d\n" % len(data) + data + b"\n", f"{version}: {path}")
        for path in sorted(set(previous) - set(files)):
            del previous[path]
            commit(f"D {path}\n".encode(), f"{version}: remove {path}")
        if mark:
            proc.stdin.write(f"reset refs/tags/v{version}\nfrom :{mark}\n\n".encode())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    _git(repo, "checkout", "-q", "-f", "main")
    # fast-import's packs hold few deltas (279 MB for SQLAlchemy's): find them anew, as gc does
    # for loose objects (22 MB), or as a clone from a forge gets them.
    _git(repo, "repack", "-a", "-d", "-f", "-q")
    stamp.write_text("\n".join(versions))
    return repo


def add_edits(repo: Path, edits: int) -> None:
    """``edits`` commits on branch ``dev``: a few files get a line each (via git fast-import)."""
    import random
    import secrets
    import string
    import zlib

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from nhiscan.engine.validators import base62_encode

    stamp = repo / ".git" / "nhiscan-bench-edits"
    if stamp.exists() and stamp.read_text() == str(edits):
        return
    tip = subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True, check=True).stdout.strip()
    files = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "*.py", "*.rst", "*.txt"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    files = [f for f in files if f]
    rng = random.Random(1)
    content: dict[str, bytes] = {}
    out = bytearray()
    for i in range(edits):
        epoch = _EPOCH + 86400 * 400 + 600 * i
        msg = f"edit {i}".encode()
        out += b"commit refs/heads/dev\n"
        out += f"committer Dev <dev@example.test> {epoch} +0000\n".encode()
        out += b"data %d\n%s\n" % (len(msg), msg)
        if i == 0:
            out += f"from {tip}\n".encode()
        for path in rng.sample(files, 3):
            if path not in content:
                content[path] = (repo / path).read_bytes() if (repo / path).exists() else b""
            line = f"# edit {i}\n"
            if i % 500 == 250:
                body = "".join(secrets.choice(string.digits + string.ascii_letters) for _ in range(30))
                token = "ghp_" + body + base62_encode(zlib.crc32(body.encode()), 6).decode()
                line = f"GITHUB_TOKEN = '{token}'  # edit {i}\n"
            content[path] += line.encode()
            data = content[path]
            out += f"M 100644 inline {path}\n".encode() + b"data %d\n" % len(data) + data + b"\n"
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(out), check=True)
    _git(repo, "gc", "-q")
    stamp.write_text(str(edits))


def _edited_copy(repo: Path, edits: int) -> Path:
    target = repo.with_name(f"{repo.name}-edits{edits}")
    if not target.exists():
        subprocess.run(["git", "clone", "-q", "--mirror", str(repo), str(target / ".git")], check=True)
        subprocess.run(["git", "-C", str(target), "config", "--bool", "core.bare", "false"], check=True)
        subprocess.run(["git", "-C", str(target), "checkout", "-q", "-f", "main"], check=True)
    add_edits(target, edits)
    return target


def shell(tool: str, command: str, repeat: int) -> Timing:
    return best_of(repeat, tool, ["sh", "-c", command])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="paramiko")
    ap.add_argument("--versions", type=int, default=30, help="how many latest releases to commit")
    ap.add_argument("--edits", type=int, default=0, help="add this many small commits on a dev branch")
    ap.add_argument(
        "--replay", action="store_true",
        help="one commit per changed file instead of one per release (many more commits, same blobs)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    versions = release_versions(args.package, args.versions)
    repo = build_replay(args.package, versions) if args.replay else build_history(args.package, versions)
    if args.edits:
        repo = _edited_copy(repo, args.edits)
    q = f"'{repo}'"
    info = subprocess.run(
        ["git", "-C", str(repo), "count-objects", "-v"], capture_output=True, text=True, check=True
    ).stdout
    commits = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True, check=True
    ).stdout.strip()
    blobs = subprocess.run(
        f"git -C {q} cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' | "
        "awk '$1==\"blob\"{n++; s+=$2} END{print n, s}'",
        shell=True, capture_output=True, text=True, check=True,
    ).stdout.split()
    pack_kb = re.search(r"size-pack: (\d+)", info)
    print(f"# {datetime.date.today()}  {machine()}")
    print(
        f"\n## {args.package}{' replayed' if args.replay else ''}{f' + {args.edits} edits' if args.edits else ''}: {commits} commits ({versions[0]} .. {versions[-1]}), {blobs[0]} blobs, "
        f"{int(blobs[1]) / 1e6:.0f} MB of blob content, pack {int(pack_kb.group(1)) / 1024 if pack_kb else 0:.1f} MB"
    )

    cache = tempfile.mkdtemp(prefix="nhiscan-bench-cache-")
    env = dict(os.environ, NHISCAN_CACHE_DIR=cache)
    nh = nhiscan_exe()
    best_of(1, "warm", [nh, "git", "-q", str(repo)], env=env)  # compile the prefilter once
    results = [
        best_of(args.repeat, "nhiscan git", [nh, "git", "-q", "--format", "json", str(repo)], env=env),
        best_of(args.repeat, "nhiscan git --jobs 1", [nh, "git", "-q", "--format", "json", "--jobs", "1", str(repo)], env=env),
        best_of(
            args.repeat, "nhiscan git, via cat-file",  # NHISCAN_READ_PACKS=0: no pack reader
            [nh, "git", "-q", "--format", "json", str(repo)], env=dict(env, NHISCAN_READ_PACKS="0"),
        ),
        shell("git cat-file --batch", f"git -C {q} cat-file --batch-all-objects --batch >/dev/null", args.repeat),
        shell("  ... --unordered", f"git -C {q} cat-file --batch-all-objects --unordered --batch >/dev/null", args.repeat),
        shell("git log -p -U0 --all", f"git -C {q} log -p -U0 --all --no-ext-diff --no-textconv >/dev/null", args.repeat),
    ]
    bl = peer("betterleaks")
    if bl:
        results.append(
            best_of(args.repeat, "betterleaks git", [bl, "git", str(repo), "--no-banner", "-s", "--exit-code=0", "-l", "error"])
        )
    else:
        print("(betterleaks not installed: python benchmarks/tree.py --install-peers)")
    print_ratios(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
