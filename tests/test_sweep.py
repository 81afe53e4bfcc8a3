"""`nhiscan sweep`: many repositories on Dask, compared with the same sweep run serially.

The distributed tests start real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1
(random free ports, one thread each), kill one worker in the middle of a task, and require
the report to equal the serial one. Every wait is bounded; every process started here is
stopped here. No network: repositories are local folders and ``file://`` URLs.

Every credential is generated at test time (random, in the issuer's format): never a real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from nhiscan.sweep.repos import RepoTarget, cache_path, is_url, public_url, read_repo_list, resolve_targets
from nhiscan.sweep.tasks import split_blobs
from tests.gitrepo import (
    GitRepo,
    corrupt_loose_object,
    error_lines,
    generic_password,
    github_token,
    run_cli,
    run_json,
    sha256,
)

DASK = Path(sys.executable).parent / "dask"
NHISCAN = Path(sys.executable).parent / "nhiscan"
VOLATILE_STATS = ("seconds", "engine", "workers")


# ---- repositories ---------------------------------------------------------------------------------

def _org(root: Path) -> dict[str, Any]:
    """Three small repositories sharing one token (removed again in b), each with its own password."""
    shared = github_token()
    own = {}
    for name in ("a", "b", "c"):
        r = GitRepo(root / name)
        r.write("README.md", f"# {name}\n")
        r.commit("init")
        r.write("deploy/settings.py", f"# deploy\nGITHUB_TOKEN = '{shared}'\n")
        r.commit("ci token")
        own[name] = generic_password()
        r.write(f"{name}.env", f"DB_PASSWORD = {own[name]}\n")
        r.commit("db")
        if name == "b":
            r.write("deploy/settings.py", "# deploy\nGITHUB_TOKEN = os.environ['GITHUB_TOKEN']\n")
            r.commit("token from the environment")
    return {"shared": shared, "own": own}


def _big(root: Path, files: int = 48) -> list[str]:
    """A repository of many blobs with a few secrets spread over them (many blob ranges)."""
    r = GitRepo(root / "big")
    tokens = []
    for i in range(files):
        body = "".join(f"line {i}-{j}: nothing to see here\n" for j in range(40))
        if i % 12 == 5:
            token = github_token()
            tokens.append(token)
            body += f"TOKEN_{i} = '{token}'\n"
        r.write(f"src/mod{i:03d}.py", body)
    r.commit("import")
    r.write("src/mod000.py", "changed\n")
    r.commit("change")
    return tokens


@pytest.fixture
def org(tmp_path: Path) -> dict[str, Any]:
    return _org(tmp_path)


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    report = json.loads(json.dumps(report))
    for key in VOLATILE_STATS:
        report["stats"].pop(key)
    return report


def _sweep(args: list[str], capsys: pytest.CaptureFixture[str], cwd: Path) -> tuple[int, dict[str, Any], str]:
    return run_json(["sweep", *args], capsys, cwd=cwd)


# ---- serial sweeps: the reference ----------------------------------------------------------------

def test_each_repository_is_reported_as_nhiscan_git_reports_it(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report, err = _sweep(["a", "b", "c", "--serial"], capsys, tmp_path)
    assert rc == 1, err
    assert report["source"] == "git"
    st = report["stats"]
    assert (st["engine"], st["workers"], st["repositories"], st["repositories_failed"]) == ("serial", 1, 3, 0)
    for name in ("a", "b", "c"):
        rc, alone, err = run_json(["git", str(tmp_path / name)], capsys)
        assert rc == 1, err
        mine = [{k: v for k, v in f.items() if k != "repo"} for f in report["findings"] if f["repo"] == name]
        assert mine == alone["findings"]
    assert st["commits"] == 3 + 4 + 3
    shared = [f for f in report["findings"] if f["secret_sha256"] == sha256(org["shared"])]
    assert sorted(f["repo"] for f in shared) == ["a", "b", "c"]
    assert org["shared"] not in json.dumps(report)


def test_text_report_names_the_repository(tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["sweep", "a", "c", "--serial", "--format", "text"], capsys, cwd=tmp_path)
    assert rc == 1, err
    assert "a: deploy/settings.py:2:" in out and "c: c.env:1:" in out


def test_missing_corrupt_and_non_repositories_are_errors_while_the_rest_goes_on(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").mkdir()
    bad = GitRepo(tmp_path / "bad")
    bad.write("victim.txt", "some content that will be damaged\n")
    bad.commit("victim")
    corrupt_loose_object(bad.path, bad.git("rev-parse", "HEAD:victim.txt"))
    out_file = tmp_path / "report.json"
    rc, _, err = run_cli(
        ["sweep", "a", "missing", "plain", "bad", "c", "--serial", "--format", "json", "-o", str(out_file)],
        capsys, cwd=tmp_path,
    )
    assert rc == 2
    assert "Traceback" not in err
    report = json.loads(out_file.read_text())
    errors = {e["path"].split(":")[0]: e["message"] for e in report["errors"]}
    assert set(errors) == {"missing", "plain", "bad"}
    assert "no such directory" in errors["missing"]
    assert "not a git repository" in errors["plain"]
    assert "run git fsck" in errors["bad"]
    assert {f["repo"] for f in report["findings"]} == {"a", "c"}
    assert report["stats"]["repositories_failed"] == 2  # bad was swept, with an unreadable blob
    lines = error_lines(err)
    assert len(lines) == 3 and any(line.startswith("nhiscan: error: missing") for line in lines)


def test_blob_ranges_give_the_same_report_as_whole_repositories(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = _big(tmp_path)
    rc, whole, err = _sweep(["big", "a", "--serial"], capsys, tmp_path)
    assert rc == 1, err
    rc, split, err = _sweep(["big", "a", "--serial", "--task-size", "1KB"], capsys, tmp_path)
    assert rc == 1, err
    assert whole["stats"]["tasks"] == 2  # one per small repository
    assert split["stats"]["tasks"] > 20  # plan + many ranges + finish for big
    whole["stats"].pop("tasks")
    split["stats"].pop("tasks")
    assert _comparable(whole) == _comparable(split)
    found = {f["secret_sha256"] for f in split["findings"] if f["repo"] == "big"}
    assert found == {sha256(t) for t in tokens}


def test_split_blobs_are_contiguous_and_bounded() -> None:
    blobs = [(f"{i:040x}", 10) for i in range(25)]
    ranges = split_blobs(blobs, 30, 1000)
    assert [b for r in ranges for b in r] == blobs
    assert all(sum(s for _, s in r) <= 30 for r in ranges) and len(ranges) == 9
    assert [len(r) for r in split_blobs(blobs, 10**9, 4)] == [4] * 6 + [1]
    assert split_blobs([], 10, 10) == []


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["sweep"], capsys, cwd=tmp_path)
    assert rc == 2 and "no repositories" in err
    rc, _, err = run_cli(["sweep", "x", "--serial", "--scheduler", "tcp://127.0.0.1:1"], capsys, cwd=tmp_path)
    assert rc == 2 and "exclude each other" in err
    rc, _, err = run_cli(["sweep", "--repos", "nope.txt"], capsys, cwd=tmp_path)
    assert rc == 2 and "nope.txt: no such file" in err


# ---- repository lists, URLs and the clone cache -----------------------------------------------------

def test_repository_list_file(tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "org.txt").write_text("# our repositories\n../a\n\n  ../c  \n../a\n")
    rc, report, err = _sweep(["--repos", str(lists / "org.txt"), "--serial"], capsys, tmp_path / "a")
    assert rc == 1, err
    assert report["stats"]["repositories"] == 2  # ../a once
    assert {f["repo"] for f in report["findings"]} == {"../a", "../c"}


def test_url_is_cloned_bare_into_the_cache_and_fetched_on_the_next_sweep(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url = (tmp_path / "a").as_uri()
    rc, report, err = _sweep([url, "--serial"], capsys, tmp_path)
    assert rc == 1, err
    assert {f["repo"] for f in report["findings"]} == {url}
    clone = cache_path(Path(os.environ["NHISCAN_CACHE_DIR"]), url)
    assert (clone / "HEAD").is_file() and not (clone / ".git").exists()
    before = len(report["findings"])

    newer = github_token()
    a = GitRepo(tmp_path / "a", init=False)
    a.write("later.py", f"T = '{newer}'\n")
    a.commit("later")
    rc, report, err = _sweep([url, "--serial", "--no-fetch"], capsys, tmp_path)
    assert len(report["findings"]) == before  # the cached clone as it was
    rc, report, err = _sweep([url, "--serial"], capsys, tmp_path)
    assert rc == 1, err
    assert any(f["secret_sha256"] == sha256(newer) for f in report["findings"])


def test_clone_failure_is_reported_without_the_urls_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = "s3cr3t-" + github_token()
    url = f"https://robot:{token}@127.0.0.1:1/org/repo.git"  # nothing listens on port 1
    rc, out, err = run_cli(["sweep", url, "--serial", "--format", "json"], capsys, cwd=tmp_path)
    assert rc == 2
    assert token not in out + err
    report = json.loads(out)
    assert report["errors"][0]["path"] == "https://127.0.0.1:1/org/repo.git"
    assert "cannot clone" in report["errors"][0]["message"]


def test_url_helpers(tmp_path: Path) -> None:
    assert is_url("https://example.test/x.git") and is_url("git@example.test:org/x.git")
    assert is_url("file:///srv/x") and not is_url("org/x") and not is_url("./a:b")
    assert public_url("https://u:p@example.test:8443/x.git?t=1") == "https://example.test:8443/x.git"
    assert public_url("git@example.test:org/x.git") == "git@example.test:org/x.git"
    a = cache_path(tmp_path, "https://u:p@example.test/org/x.git")
    assert a == cache_path(tmp_path, "https://example.test/org/x.git")  # credentials do not matter
    assert a.parent == tmp_path / "repos" and "p@" not in str(a) and ".." not in a.name
    assert cache_path(tmp_path, "https://example.test/org/y.git") != a
    listed = tmp_path / "l.txt"
    listed.write_text("x\n#y\nhttps://h.test/z.git\n")
    targets = resolve_targets(read_repo_list(str(listed)), cache_root=tmp_path)
    assert targets[0] == RepoTarget(name="x", path=str(tmp_path / "x"))
    assert targets[1].url == "https://h.test/z.git" and targets[1].path.startswith(str(tmp_path / "repos"))


# ---- the cross-repository register ----------------------------------------------------------------

def test_one_credential_in_three_repositories_is_one_entry_with_its_reuse(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(
        ["sweep", "a", "b", "c", "--serial", "--format", "json", "-o", "r.json", "--inventory", "inv.json"],
        capsys, cwd=tmp_path,
    )
    assert rc == 1, err
    inv = json.loads((tmp_path / "inv.json").read_text())
    assert inv["source"] == "sweep" and inv["root"] == "3 repositories"
    [shared] = [e for e in inv["entries"] if e["secret_sha256"] == sha256(org["shared"])]
    assert shared["reuse_count"] == 3
    assert sorted(loc["repo"] for loc in shared["locations"]) == ["a", "b", "c"]
    assert "NHI9" in shared["owasp_nhi"]
    assert shared["present_at_head"] is True  # b removed it, a and c still hold it
    assert shared["head_paths"] == ["a:deploy/settings.py", "c:deploy/settings.py"]
    own = [e for e in inv["entries"] if e["id"] != shared["id"]]
    assert len(own) == 3 and all(e["reuse_count"] == 1 and "NHI9" not in e["owasp_nhi"] for e in own)
    text = (tmp_path / "inv.json").read_text()
    assert org["shared"] not in text and not any(p in text for p in org["own"].values())
    rc, _, err = run_cli(["sweep", "a", "b", "--serial", "-q", "--inventory", "inv.csv"], capsys, cwd=tmp_path)
    assert rc == 1 and "a:deploy/settings.py" in (tmp_path / "inv.csv").read_text()


def test_credential_removed_everywhere_is_not_at_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    for name in ("x", "y"):
        r = GitRepo(tmp_path / name)
        r.write("k.py", f"K = '{token}'\n")
        r.commit("add")
        r.write("k.py", "K = None\n")
        r.commit("remove")
    rc, _, err = run_cli(["sweep", "x", "y", "--serial", "-q", "--inventory", "inv.json"], capsys, cwd=tmp_path)
    assert rc == 1, err
    [entry] = json.loads((tmp_path / "inv.json").read_text())["entries"]
    assert entry["present_at_head"] is False and entry["removed_in"] is not None
    assert entry["reuse_count"] == 2


# ---- Dask ----------------------------------------------------------------------------------------

# Loaded by the test's workers only (dask worker --preload): every blob-range task takes a
# little longer, so that the test can kill a worker while it is inside one.
_SLOW_PRELOAD = """
import time
import nhiscan.sweep.tasks as tasks

# Dask may import a preload file more than once: wrap the original function only once.
if not getattr(tasks.scan_range, "slowed_for_tests", False):
    def scan_range(key, root, blobs, _original=tasks.scan_range):
        time.sleep(0.15)
        return _original(key, root, blobs)

    scan_range.slowed_for_tests = True
    tasks.scan_range = scan_range
"""


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Cluster:
    """A ``dask scheduler`` and named ``dask worker`` processes on 127.0.0.1, random ports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def start(self, workers: int, preload: Path) -> None:
        self._start("scheduler", [
            str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(self.scheduler_file),
        ])
        _wait(lambda: self.scheduler_file.is_file() and self.scheduler_file.stat().st_size > 0, 30, "the scheduler")
        for i in range(workers):
            name = f"w{i}"
            self.workers[name] = self._start(name, [
                str(DASK), "worker", "--scheduler-file", str(self.scheduler_file), "--name", name,
                "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                "--preload", str(preload), "--death-timeout", "60",
            ])

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    pytest.importorskip("distributed")
    folder = tmp_path / "cluster"
    folder.mkdir()
    preload = folder / "slow_ranges.py"
    preload.write_text(_SLOW_PRELOAD)
    c = Cluster(folder)
    try:
        c.start(2, preload)
        yield c
    finally:
        c.stop()


def test_dask_sweep_equals_the_serial_one_even_when_a_worker_dies_mid_task(
    tmp_path: Path, org: dict[str, Any], cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from distributed import Client

    _big(tmp_path, files=60)
    args = ["a", "big", "missing", "b", "c", "--task-size", "1", "--format", "json"]
    rc, serial, err = _sweep([*args[:-2], "--serial"], capsys, tmp_path)
    assert rc == 2, err  # missing
    env = dict(os.environ, NHISCAN_DEBUG="1")
    with Client(cluster.address, timeout=30) as watcher:
        watcher.wait_for_workers(2, timeout=30)
        sweep = subprocess.Popen(
            [str(NHISCAN), "sweep", *args, "--scheduler", cluster.address, "-o", "dask.json"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            victim = cluster.workers["w1"]
            victim_addr = next(
                addr for addr, w in watcher.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == "w1"
            )

            def in_a_range_task() -> bool:
                busy = watcher.processing(workers=[victim_addr]).get(victim_addr, [])
                return any(str(k).startswith("nhiscan-range-") for k in busy)

            _wait(in_a_range_task, 60, "worker w1 to run a blob-range task")
            victim.kill()
            victim.wait(timeout=10)
            assert sweep.poll() is None, "the sweep ended before the worker was killed"
            out, err_b = sweep.communicate(timeout=120)
        finally:
            if sweep.poll() is None:
                sweep.kill()
                sweep.wait(timeout=10)
        err = err_b.decode()
        assert sweep.returncode == 2, err
        assert "Traceback" not in err
        _wait(lambda: victim_addr not in watcher.scheduler_info(n_workers=-1)["workers"], 30, "the scheduler to drop w1")
    dask = json.loads((tmp_path / "dask.json").read_text())
    assert dask["stats"]["engine"] == "dask" and dask["stats"]["workers"] == 2
    assert dask["stats"]["tasks"] > 60
    assert _comparable(dask) == _comparable(serial)
    assert error_lines(err) == ["nhiscan: error: missing: no such directory"]


def test_local_cluster_is_the_default_engine(tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    rc, serial, err = _sweep(["a", "b", "c", "--serial"], capsys, tmp_path)
    assert rc == 1, err
    proc = subprocess.run(
        [str(NHISCAN), "sweep", "a", "b", "c", "-j", "2", "--format", "json"],
        cwd=tmp_path, capture_output=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr.decode()
    local = json.loads(proc.stdout)
    assert (local["stats"]["engine"], local["stats"]["workers"]) == ("dask", 2)
    assert _comparable(local) == _comparable(serial)


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")
    proc = subprocess.run(
        [str(NHISCAN), "sweep", "a", "--scheduler", "tcp://127.0.0.1:1"],
        cwd=tmp_path, capture_output=True, timeout=60, env=env,
    )
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "cannot connect to the Dask scheduler" in err and "Traceback" not in err


def test_sweep_without_distributed_installed_says_how_to_get_it(
    tmp_path: Path, org: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    rc, _, err = run_cli(["sweep", "a"], capsys, cwd=tmp_path)
    assert rc == 2 and "nhiscan[distributed]" in err and "--serial" in err
