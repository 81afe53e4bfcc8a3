"""`nhiscan git`: history sweeps and commit ranges on real repositories built in tmp dirs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.gitrepo import (
    AUTHOR,
    AUTHOR_EMAIL,
    GitRepo,
    corrupt_loose_object,
    error_lines,
    findings_for,
    generic_password,
    github_token,
    run_cli,
    run_git,
    run_json,
)


def settings(token: str, *, before: int = 2) -> str:
    return "".join(f"# filler line {i}\n" for i in range(before)) + f'GITHUB_TOKEN = "{token}"\n'


# ---- the sweep --------------------------------------------------------------------------------

def test_secret_added_then_removed_is_found_by_git_not_by_scan(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("app/settings.py", settings(token, before=4))
    added = repo.commit("add settings")
    repo.write("app/settings.py", settings("os.environ['GITHUB_TOKEN']"))
    repo.commit("read the token from the environment")

    rc, report, _ = run_json(["scan", str(repo.path)], capsys)
    assert rc == 0 and not findings_for(report, token)

    rc, report, err = run_json(["git", str(repo.path)], capsys)
    assert rc == 1, err
    [f] = findings_for(report, token)
    assert f["path"] == "app/settings.py"
    assert (f["line"], f["column"]) == (5, 17)
    assert f["commit"] == added
    assert f["author"] == AUTHOR and f["email"] == AUTHOR_EMAIL
    assert f["date"] == repo.date(added)
    assert f["commits_count"] == 1
    assert report["source"] == "git"
    assert report["stats"]["commits"] == 3
    assert report["stats"]["blobs"] >= 3


def test_text_report_shows_commit_author_and_date(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("deploy.env", f"TOKEN={token}\n")
    sha = repo.commit("oops")
    rc, out, _ = run_cli(["git", str(repo.path), "--format", "text", "--no-color"], capsys)
    assert rc == 1
    assert "deploy.env:1:7" in out
    assert f"commit {sha[:12]} by {AUTHOR} <{AUTHOR_EMAIL}> on {repo.date(sha)}" in out
    assert token not in out
    assert "2 commits" in out


def test_secret_only_on_a_side_branch_or_a_tag(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    on_branch, on_tag = github_token(), github_token()
    repo.checkout("-b", "side")
    repo.write("side.txt", f"token={on_branch}\n")
    side = repo.commit("side work")
    repo.checkout("main")
    repo.checkout("-b", "release-tmp")
    repo.write("release.cfg", f"token = {on_tag}\n")
    tagged = repo.commit("release")
    repo.git("tag", "-a", "v1", "-m", "v1")
    repo.checkout("main")
    repo.git("branch", "-D", "release-tmp")

    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    assert rc == 1
    [a] = findings_for(report, on_branch)
    [b] = findings_for(report, on_tag)
    assert (a["path"], a["commit"]) == ("side.txt", side)
    assert (b["path"], b["commit"]) == ("release.cfg", tagged)
    rc, report, _ = run_json(["scan", str(repo.path)], capsys)
    assert rc == 0


def test_same_secret_in_many_commits_is_one_finding_with_its_first_commit(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    token = github_token()
    repo.write("config.py", settings(token, before=1))
    first = repo.commit("add config")
    for i in range(4):
        repo.write("other.txt", f"unrelated {i}\n")
        repo.commit(f"other {i}")
    # A new version of the file, secret kept and moved down: still the same finding.
    repo.write("config.py", settings(token, before=6))
    repo.commit("more settings")
    repo.write("config.py", "nothing here\n")
    repo.commit("remove it")
    repo.write("unrelated.txt", "x\n")
    repo.commit("after")

    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    assert rc == 1
    [f] = findings_for(report, token)
    assert f["commit"] == first
    assert f["line"] == 2
    assert f["commits_count"] == 6  # add config + 4 others + more settings


def test_same_secret_at_two_paths_is_two_findings(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("a.env", f"TOKEN={token}\n")
    repo.write("b/c.env", f"TOKEN={token}\n")  # same blob, two paths
    sha = repo.commit("two copies")
    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    found = findings_for(report, token)
    assert sorted(f["path"] for f in found) == ["a.env", "b/c.env"]
    assert {f["commit"] for f in found} == {sha}
    assert report["stats"]["blobs"] == 2  # README and the shared blob, each scanned once


def test_renamed_file(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("old/name.py", settings(token))
    first = repo.commit("add")
    (repo.path / "new").mkdir()
    repo.git("mv", "old/name.py", "new/name.py")
    moved = repo.commit("rename")
    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    by_path = {f["path"]: f for f in findings_for(report, token)}
    assert set(by_path) == {"old/name.py", "new/name.py"}
    assert by_path["old/name.py"]["commit"] == first
    assert by_path["old/name.py"]["commits_count"] == 1
    assert by_path["new/name.py"]["commit"] == moved
    assert report["stats"]["blobs"] == 2  # the renamed blob is read once


def test_secret_merged_from_a_branch_keeps_the_branch_commit(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token, evil = github_token(), github_token()
    repo.checkout("-b", "feature")
    repo.write("feature.py", settings(token))
    introduced = repo.commit("feature")
    repo.checkout("main")
    repo.write("main.txt", "main work\n")
    repo.commit("main work")
    repo.merge("feature", no_commit=True)
    repo.write("merge-fix.cfg", f"token: {evil}\n")  # added by the merge commit itself
    merge = repo.commit("merge feature")
    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    [f] = findings_for(report, token)
    assert f["commit"] == introduced
    assert f["commits_count"] == 2  # the feature commit and the merge
    [g] = findings_for(report, evil)
    assert g["commit"] == merge and g["path"] == "merge-fix.cfg"


def test_binary_blobs_are_skipped(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("blob.bin", b"\x00\x01\x02 binary header\n" + f"token={token}\n".encode())
    repo.commit("binary")
    rc, report, err = run_json(["git", str(repo.path)], capsys)
    assert rc == 0
    assert not findings_for(report, token)
    assert report["stats"]["skipped"].get("binary") == 1
    assert "binary" in err


def test_blobs_over_max_file_size_are_skipped_and_named(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("big.txt", "x" * 5000 + f"\ntoken={token}\n")
    repo.write("small.env", f"TOKEN={github_token()}\n")
    repo.commit("big and small")
    rc, report, err = run_json(["git", str(repo.path), "--max-file-size", "1KB"], capsys)
    assert rc == 1
    assert not findings_for(report, token)
    assert report["stats"]["skipped"].get("too_large") == 1
    assert "big.txt" in err and "max-file-size" in err


def test_submodules_are_skipped_cleanly(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = GitRepo(tmp_path / "sub")
    sub.write("inner.env", f"TOKEN={github_token()}\n")
    sub_head = sub.commit("inner")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub_head},vendor/sub")
    repo.write(".gitmodules", '[submodule "vendor/sub"]\n\tpath = vendor/sub\n\turl = ../sub\n')
    repo.git("add", ".gitmodules")
    repo.commit("add submodule", add=False)
    token = github_token()
    repo.write("top.env", f"TOKEN={token}\n")
    repo.commit("top")
    rc, report, err = run_json(["git", str(repo.path)], capsys)
    assert rc == 1, err
    assert [f["path"] for f in report["findings"]] == ["top.env"]
    assert not error_lines(err)
    rc, report, err = run_json(["git", str(repo.path), "--range", "HEAD~2..HEAD"], capsys)
    assert rc == 1 and not error_lines(err)
    assert [f["path"] for f in report["findings"]] == ["top.env"]


def test_bare_repository(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("x/y.py", settings(token))
    sha = repo.commit("secret")
    bare = tmp_path / "bare.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    rc, report, err = run_json(["git", str(bare)], capsys)
    assert rc == 1, err
    [f] = findings_for(report, token)
    assert (f["path"], f["commit"]) == ("x/y.py", sha)
    rc, report, err = run_json(["git", str(bare), "--range", "HEAD~1..HEAD"], capsys)
    assert rc == 1 and findings_for(report, token)


def test_corrupt_object_is_exit_2_with_one_line(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.write("victim.txt", "some content that will be damaged\n")
    repo.commit("victim")
    oid = repo.git("rev-parse", "HEAD:victim.txt")
    corrupt_loose_object(repo.path, oid)
    rc, out, err = run_cli(["git", str(repo.path)], capsys)
    assert rc == 2
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert oid[:12] in lines[0] and "victim.txt" in lines[0]
    assert "Traceback" not in err
    assert "scanned" in out  # the report of what could be read is still written


def test_missing_repository_and_not_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["git", str(tmp_path / "nope")], capsys)
    assert rc == 2 and out == ""
    assert err.strip().splitlines() == [f"nhiscan: error: {tmp_path / 'nope'}: no such directory"]
    plain = tmp_path / "plain"
    plain.mkdir()
    rc, out, err = run_cli(["git", str(plain)], capsys)
    assert rc == 2
    [line] = err.strip().splitlines()
    assert "not a git repository" in line


def test_the_listing_started_early_is_the_listing(repo: GitRepo, tmp_path: Path) -> None:
    """``nhiscan git`` starts listing the objects before it opens the repository: the same
    blobs in the same order as listing afterwards, from the repository or a folder in it; a
    folder that is no repository gives no listing (the usual path then reports it)."""
    from nhiscan.sources.git import EarlyListing, list_blobs, open_repo

    repo.write("a.txt", "one\n")
    repo.write("sub/b.txt", "two\n")
    repo.commit("first")
    repo.write("a.txt", "one\nmore\n")
    repo.commit("second")
    info = open_repo(repo.path)
    want = list_blobs(info)
    assert len(want.blobs) >= 3 and not want.unreadable
    for where in (repo.path, repo.path / "sub"):
        early = EarlyListing(where)
        try:
            assert list_blobs(info, early) == want
            assert early.take() is None  # (taken once)
        finally:
            early.close()
    plain = tmp_path / "plain"
    plain.mkdir()
    early = EarlyListing(plain)
    assert early.take() is None
    early.close()
    early = EarlyListing(repo.path)
    early.close()  # (never taken: git stopped, its file closed)
    assert early.take() is None


def test_unusual_paths(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    name = "dir with space/ünï\tcode.env"
    repo.write(name, f"TOKEN={token}\n")
    repo.commit("odd name")
    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    [f] = findings_for(report, token)
    assert f["path"] == name
    rc, report, _ = run_json(["git", str(repo.path), "--range", "HEAD~1..HEAD"], capsys)
    [f] = findings_for(report, token)
    assert f["path"] == name


def test_amended_away_secret_is_not_reported_but_warned(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("oops.env", f"TOKEN={token}\n")
    repo.commit("oops")
    repo.write("oops.env", "TOKEN=\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--no-edit")
    rc, report, err = run_json(["git", str(repo.path)], capsys)
    assert rc == 0
    assert not findings_for(report, token)
    assert "reachable from no ref" in err


def test_generic_rule_in_history(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    password = generic_password()
    repo.write("db.py", f'DB_PASSWORD = "{password}"\n')
    sha = repo.commit("db")
    repo.write("db.py", "DB_PASSWORD = os.environ['DB_PASSWORD']\n")
    repo.commit("fix")
    rc, report, _ = run_json(["git", str(repo.path)], capsys)
    [f] = findings_for(report, password)
    assert f["commit"] == sha and f["line"] == 1 and f["column"] == 16
    assert f["secret"] != password


def test_history_controls_are_added(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    token = github_token()
    repo.write("t.env", f"TOKEN={token}\n")
    repo.commit("t")
    _, history, _ = run_json(["git", str(repo.path)], capsys)
    _, files, _ = run_json(["scan", str(repo.path)], capsys)
    [h] = findings_for(history, token)
    [f] = findings_for(files, token)
    assert set(f["controls"]) <= set(h["controls"])
    assert h["fingerprint"] == f["fingerprint"]  # same rule, path and secret


def test_parallel_sweep_matches_serial(repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import nhiscan.history as history

    tokens = []
    for i in range(6):
        t = github_token()
        tokens.append(t)
        repo.write(f"f{i}.env", f"TOKEN={t}\n" + "filler\n" * 50)
        repo.commit(f"c{i}")
    _, serial, _ = run_json(["git", str(repo.path), "--jobs", "1"], capsys)
    monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    rc, parallel, err = run_json(["git", str(repo.path), "--jobs", "2"], capsys)
    assert rc == 1, err
    key = lambda r: sorted((f["path"], f["line"], f["commit"], f["commits_count"]) for f in r["findings"])  # noqa: E731
    assert key(parallel) == key(serial)
    assert len(serial["findings"]) == 6


def test_parallel_sweep_reads_contiguous_pieces_and_shows_progress(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers read contiguous pieces of the pack order (delta bases stay warm), each
    piece once; the parent's progress bar still counts every byte the workers read."""
    import nhiscan.history as history
    from nhiscan.config import Config
    from nhiscan.cache import cache_dir
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner
    from nhiscan.sources.git import list_blobs, open_repo

    for i in range(8):
        repo.write(f"f{i}.txt", f"line {i}\n" * 200)
        repo.commit(f"c{i}")
    repo.write("f0.txt", f"TOKEN={github_token()}\n")
    repo.commit("secret")
    blobs = list_blobs(open_repo(repo.path)).blobs
    real_pieces = history.pieces
    runs: list[list[tuple[str, int]]] = []

    def spy(blobs: list[tuple[str, int]], jobs: int) -> list[list[tuple[str, int]]]:
        out = real_pieces(blobs, jobs)
        runs.extend(out)
        return out

    monkeypatch.setattr(history, "pieces", spy)
    monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    config = Config()
    ruleset = build_ruleset(config)
    options = EngineOptions(cache_dir=cache_dir())
    report = history.scan_history(
        repo.path, config=config, ruleset=ruleset, scanner=build_scanner(ruleset, options),
        options=options, jobs=2, rev_args=None, progress=True,
    )
    assert 2 < len(runs) <= 8 and [b for r in runs for b in r] == blobs
    assert report.stats.blobs == len(blobs) and len(report.findings) == 1
    assert "100%" in capsys.readouterr().err


def test_pieces_shrink_towards_the_end_and_cover_the_sweep_in_order() -> None:
    from nhiscan.history import _BLOB_COST, pieces, weighted_runs

    blobs = [(f"b{i}", 1000) for i in range(3000)]
    for jobs in (1, 2, 3):
        cut = pieces(blobs, jobs)
        assert [b for r in cut for b in r] == blobs and len(cut) == 4 * jobs
        sizes = [len(r) for r in cut]
        assert all(a >= b - 1 for a, b in zip(sizes, sizes[1:])) and sizes[0] >= 7 * sizes[-1]
    assert pieces(blobs[:3], 2) == [[b] for b in blobs[:3]]
    assert weighted_runs([("a", 10 * _BLOB_COST), ("b", 0), ("c", 0)], [1, 1, 1]) == [[("a", 10 * _BLOB_COST)], [("b", 0), ("c", 0)]]
    assert [len(r) for r in weighted_runs(blobs, [3, 1])] == [2250, 750]


def test_even_runs_are_contiguous_balanced_and_never_more_than_asked() -> None:
    import nhiscan.history as history
    from nhiscan.history import weighted_runs

    def even_runs(blobs: list[tuple[str, int]], n: int) -> list[list[tuple[str, int]]]:
        return weighted_runs(blobs, [1] * n)

    blobs = [(f"b{i}", size) for i, size in enumerate([100, 5, 5, 5, 5, 5, 5, 0, 30, 0])]
    for n in (1, 2, 3, 4, 16):
        runs = even_runs(blobs, n)
        assert [b for r in runs for b in r] == blobs  # contiguous, in order, nothing lost
        assert 1 <= len(runs) <= n
    assert len(even_runs([(f"b{i}", 1) for i in range(100)], 4)) == 4
    assert even_runs([("a", 0), ("b", 0)], 2) == [[("a", 0)], [("b", 0)]]
    # A blob costs its bytes and a share of its own: one large blob balances many small ones.
    big = history._BLOB_COST * 9
    runs = even_runs([("big", big)] + [(f"s{i}", 1000) for i in range(10)], 2)
    assert [len(r) for r in runs] == [1, 10]
    runs = even_runs([("big", big)] + [(f"s{i}", 1000) for i in range(30)], 2)
    assert [len(r) for r in runs] == [11, 20]


def test_an_error_in_one_worker_stops_the_others_at_their_next_blob(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an error the parent cancels the queued pieces and tells the pieces being scanned
    to stop, or it would wait for them to scan their whole share."""
    import time

    import nhiscan.history as history
    from nhiscan.config import Config
    from nhiscan.cache import cache_dir
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner
    from nhiscan.sources.git import list_blobs, open_repo

    for i in range(40):
        repo.write(f"f{i:02}.txt", f"line {i}\n" * 100)
    repo.commit("many files")
    log = tmp_path / "scanned.log"
    real_scan_bytes = history.scan_bytes
    first = list_blobs(open_repo(repo.path)).blobs[0][0]

    def slow_scan(scanner: object, label: str, data: bytes, **kw: object) -> object:
        if label == f"blob {first}":
            raise RuntimeError("boom")
        with log.open("a") as fh:
            fh.write(label + "\n")
        time.sleep(0.05)
        return real_scan_bytes(scanner, label, data, **kw)  # type: ignore[arg-type]

    # The fault is planted in this process: the workers must be forked to inherit it (whatever
    # the platform's default start method).
    import concurrent.futures
    import functools
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method to plant the fault in the workers")
    monkeypatch.setattr(
        concurrent.futures, "ProcessPoolExecutor",
        functools.partial(concurrent.futures.ProcessPoolExecutor, mp_context=multiprocessing.get_context("fork")),
    )
    monkeypatch.setattr(history, "scan_bytes", slow_scan)
    monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    config = Config()
    ruleset = build_ruleset(config)
    options = EngineOptions(cache_dir=cache_dir())
    with pytest.raises(RuntimeError, match="boom"):
        history.scan_history(
            repo.path, config=config, ruleset=ruleset, scanner=build_scanner(ruleset, options),
            options=options, jobs=2, rev_args=None, progress=False,
        )
    scanned = log.read_text().splitlines() if log.exists() else []
    assert len(scanned) < 15, f"the other run went on for {len(scanned)} blobs after the error"


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from nhiscan.history import _Progress

    bar = _Progress(True, 100, "scanning history")
    bar.advance(100)
    bar.close()
    assert "100%" in capsys.readouterr().err
    quiet = _Progress(False, 100, "scanning history")
    quiet.advance(100)
    quiet.close()
    assert capsys.readouterr().err == ""


# ---- ranges -------------------------------------------------------------------------------------

@pytest.fixture
def merge_request(repo: GitRepo) -> dict[str, str]:
    """main has an old secret; the feature branch adds one, merges main in, adds a clean commit."""
    old, new, on_main_later = github_token(), github_token(), github_token()
    repo.write("legacy.py", settings(old))
    repo.commit("old secret on main")
    base = repo.head()
    repo.checkout("-b", "feature")
    repo.write("feature/api.py", "import os\n" + settings(new, before=3))
    introduced = repo.commit("feature adds a secret")
    repo.checkout("main")
    repo.write("main-later.env", f"TOKEN={on_main_later}\n")
    repo.commit("main moves on")
    repo.checkout("feature")
    repo.merge("main", "merge main into feature")
    repo.write("feature/docs.md", "docs\n")
    repo.commit("clean commit")
    repo.checkout("main")
    return {"old": old, "new": new, "main_later": on_main_later, "base": base, "introduced": introduced}


def test_range_reports_only_what_the_merge_request_adds(
    repo: GitRepo, merge_request: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report, err = run_json(["git", str(repo.path), "--range", "main..feature"], capsys)
    assert rc == 1, err
    [f] = report["findings"]
    assert f["secret_sha256"] == findings_for(report, merge_request["new"])[0]["secret_sha256"]
    assert (f["path"], f["line"]) == ("feature/api.py", 5)
    assert f["commit"] == merge_request["introduced"]
    assert report["stats"]["commits"] == 3


def test_rev_list_arguments_after_double_dash(
    repo: GitRepo, merge_request: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, report, _ = run_json(["git", str(repo.path), "--", "feature", "^main"], capsys)
    assert rc == 1
    assert len(report["findings"]) == 1 and findings_for(report, merge_request["new"])
    # With no REPO argument, the current directory; options after -- go to rev-list.
    rc, report, _ = run_json(["git", "--", "--no-merges", "main..feature"], capsys, cwd=repo.path)
    assert rc == 1 and report["stats"]["commits"] == 2
    # A range with nothing new in it passes.
    rc, report, _ = run_json(["git", str(repo.path), "--range", "feature~1..feature~1"], capsys)
    assert rc == 0 and report["findings"] == []


def test_range_includes_evil_merge_content(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    evil = github_token()
    repo.checkout("-b", "topic")
    repo.write("topic.txt", "topic\n")
    repo.commit("topic")
    repo.checkout("main")
    repo.write("main.txt", "main\n")
    repo.commit("main")
    base = repo.head()
    repo.merge("topic", no_commit=True)
    repo.write("main.txt", "main\n" + f"TOKEN={evil}\n")
    repo.git("add", "-A")
    repo.commit("merge with a fix", add=False)
    rc, report, _ = run_json(["git", str(repo.path), "--range", f"{base}..HEAD"], capsys)
    assert rc == 1
    [f] = findings_for(report, evil)
    assert (f["path"], f["line"]) == ("main.txt", 2)


def test_range_unknown_revision_is_exit_2(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["git", str(repo.path), "--range", "origin/nope..HEAD"], capsys)
    assert rc == 2 and out == ""
    [line] = err.strip().splitlines()
    assert "origin/nope" in line and "unknown revision" in line and "fetch" in line


def test_rev_list_output_option_is_refused(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "written"
    rc, _, err = run_cli(["git", str(repo.path), "--", f"--output={target}", "HEAD"], capsys)
    assert rc == 2 and not target.exists()
    assert "--output" in err


def test_shallow_clone(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = github_token(), github_token()
    repo.write("old.env", f"TOKEN={old}\n")
    repo.commit("old")
    repo.write("old.env", "TOKEN=\n")
    first_clean = repo.commit("clean")
    repo.write("new.env", f"TOKEN={new}\n")
    repo.commit("new")
    clone = tmp_path / "shallow"
    run_git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))

    rc, report, err = run_json(["git", str(clone)], capsys)
    assert rc == 1
    assert "shallow" in err
    assert findings_for(report, new) and not findings_for(report, old)

    rc, out, err = run_cli(["git", str(clone), "--range", f"{first_clean}..HEAD"], capsys)
    assert rc == 2 and out == ""
    [line] = err.strip().splitlines()
    assert first_clean in line and "shallow" in line and "fetch" in line

    rc, out, err = run_cli(["git", str(clone), "--", "HEAD"], capsys)
    assert rc == 2
    [line] = err.strip().splitlines()
    assert "shallow clone" in line

    rc, report, err = run_json(["git", str(clone), "--range", "HEAD..HEAD"], capsys)
    assert rc == 0


def test_cli_usage_errors(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["git", str(repo.path), "--"], capsys)
    assert rc == 2 and "no revisions" in err
    rc, _, err = run_cli(["git", str(repo.path / "README.md")], capsys)
    assert rc == 2 and "not a directory" in err


def test_git_subprocesses_get_no_terminal_prompt(repo: GitRepo) -> None:
    # A smoke test that the CLI runs as a subprocess too (entry point, exit code).
    proc = subprocess.run(
        [str(Path(__import__("sys").executable).parent / "nhiscan"), "git", str(repo.path), "-q"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


# ---- the parsers, on in-memory git output -------------------------------------------------------

def test_unquote_path() -> None:
    from nhiscan.sources.git import unquote_path

    assert unquote_path(b"plain/path.py") == b"plain/path.py"
    assert unquote_path(b'"a\\tb\\\\c\\"d"') == b'a\tb\\c"d'
    assert unquote_path(b'"\\303\\274.txt"').decode() == "ü.txt"


def test_patch_parser_on_plain_and_combined_diffs() -> None:
    from nhiscan.sources.git import PatchParser

    a, b, c, d = ("1" * 40, "2" * 40, "3" * 40, "4" * 40)
    text = (
        f"\x01{a} {b}\x02Ada\x02ada@example.test\x022024-01-01T00:00:00+00:00\n"
        "\n"
        f":100644 100644 {b} {c} M\tsrc/app.py\n"
        f":000000 100644 {'0' * 40} {d} A\t\"odd\\tname.txt\"\n"
        f":100644 100644 {c} {c} R100\told.py\tnew.py\n"
        f":000000 160000 {'0' * 40} {a} A\tvendor/sub\n"
        "\n"
        "diff --git a/src/app.py b/src/app.py\n"
        f"index {b}..{c} 100644\n"
        "--- a/src/app.py\n"
        "+++ b/src/app.py\n"
        "@@ -3,0 +4,2 @@ def f():\n"
        "+++ not a header\n"
        "+x = 2\n"
        "@@ -10 +12 @@\n"
        "-old\n"
        "+new\n"
        'diff --git "a/odd\\tname.txt" "b/odd\\tname.txt"\n'
        "new file mode 100644\n"
        "--- /dev/null\n"
        '+++ "b/odd\\tname.txt"\t\n'
        "@@ -0,0 +1 @@\n"
        "+hello\n"
        "diff --git a/old.py b/new.py\n"
        "similarity index 100%\n"
        f"\x01{d} {a} {b}\x02Bob\x02bob@example.test\x022024-01-02T00:00:00+00:00\n"
        "\n"
        f"::100644 100644 100644 {a} {b} {c} MM\tmerged.py\n"
        "\n"
        "diff --cc merged.py\n"
        f"index {a},{b}..{c}\n"
        "--- a/merged.py\n"
        "+++ b/merged.py\n"
        "@@@ -1,1 -1,1 +1,3 @@@\n"
        "- from first\n"
        " -from second\n"
        "++resolved by hand\n"
        "+ kept from second\n"
        " +kept from first\n"
    )
    first, merge = list(PatchParser().feed(text.encode().splitlines(keepends=True)))
    assert first.commit is not None and first.commit.author == "Ada"
    assert [(f.path, f.oid, f.added) for f in first.files] == [
        ("src/app.py", c, frozenset({4, 5, 12})),
        ("odd\tname.txt", d, frozenset({1})),
    ]
    assert first.skipped == [("vendor/sub", "submodule")]
    assert merge.commit is not None and merge.commit.sha == d
    [m] = merge.files
    assert (m.path, m.oid, m.added) == ("merged.py", c, frozenset({1}))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_thousand_damaged_objects_still_give_the_report(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """git dies on each damaged object and is restarted after it: 1,010 of them must neither
    lose the report (the secret in a sound blob, one error per damaged object) nor end in an
    internal error (a restart used to race the thread feeding git's stdin)."""
    import random

    import nhiscan.history as history

    monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    rnd = random.Random(7)
    (repo.path / "d").mkdir()
    for i in range(4500):  # 1,010 damaged stay under a quarter: every sound blob is read
        (repo.path / "d" / f"f{i}.txt").write_text(f"file {i}\n" + "".join(rnd.choice("abcdefghij \n") for _ in range(600)))
    token = github_token()
    repo.write("settings.py", f"TOKEN = '{token}'\n")
    repo.commit("many files")
    damaged = repo.git("ls-files", "-s", "d").split("\n")[:1010]
    for line in damaged:
        oid = line.split()[1]
        target = repo.path / ".git" / "objects" / oid[:2] / oid[2:]
        data = bytearray(target.read_bytes())
        target.chmod(0o644)
        mid = len(data) // 2
        data[mid : mid + 16] = b"\xde\xad\xbe\xef" * 4  # the header still reads: git dies mid-object
        target.write_bytes(bytes(data))
    rc, report, err = run_json(["git", str(repo.path), "--jobs", jobs], capsys)
    assert rc == 2 and "internal error" not in err and "Traceback" not in err
    assert findings_for(report, token)
    msgs = [e["message"] for e in report["errors"]]
    assert len(msgs) == 1010, sorted(set(msgs))[:5]
    assert report["stats"]["blobs"] >= 3000


def test_git_dying_on_most_objects_is_given_up_with_a_warning(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each restart costs a git process: past the limit the rest of the run is reported
    unreadable at once, and a warning says so (what was read keeps its findings)."""
    import nhiscan.sources.git as gitsrc

    monkeypatch.setattr(gitsrc, "MAX_RESTARTS", 3)
    import random

    rnd = random.Random(3)
    for i in range(12):
        repo.write(f"f{i}.txt", f"file {i}\n" + "".join(rnd.choice("abcdefghij \n") for _ in range(600)))
    repo.commit("files")
    for line in repo.git("ls-files", "-s").split("\n"):
        oid = line.split()[1]
        if line.endswith(".txt"):
            target = repo.path / ".git" / "objects" / oid[:2] / oid[2:]
            data = bytearray(target.read_bytes())
            target.chmod(0o644)
            data[len(data) // 2 : len(data) // 2 + 16] = b"\xde\xad\xbe\xef" * 4
            target.write_bytes(bytes(data))
    rc, report, err = run_json(["git", str(repo.path), "--jobs", "1"], capsys)
    assert rc == 2 and "internal error" not in err
    assert len(report["errors"]) in (12, 13), err  # README.md too, unless read before git's 4th failure
    [warning] = [w for w in err.splitlines() if "git failed on 4 of the objects" in w]
    assert "were not read" in warning and warning.startswith("nhiscan: warning:")


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_commit_walk_starts_at_the_first_finding_and_places_it_as_before(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """git walks the commits for placing findings while the scan goes on, from the first
    finding; the report is the one placing them afterwards gives, and a clean history starts
    no walk."""
    import nhiscan.history as history
    from nhiscan.sources import git as gitmod

    monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    for i in range(6):
        repo.write(f"f{i}.txt", f"line {i}\n" * 300)
        repo.commit(f"c{i}")
    rc, clean, _ = run_json(["git", str(repo.path), "--jobs", str(jobs)], capsys)
    assert rc == 0
    started: list[int] = []
    used: list[bool] = []
    real_init, real_lines = gitmod.CommitWalk.__init__, gitmod.CommitWalk.lines

    def spy_init(self, info):  # type: ignore[no-untyped-def]
        started.append(1)
        real_init(self, info)

    def spy_lines(self):  # type: ignore[no-untyped-def]
        out = real_lines(self)
        used.append(out is not None)
        return out

    monkeypatch.setattr(gitmod.CommitWalk, "__init__", spy_init)
    monkeypatch.setattr(gitmod.CommitWalk, "lines", spy_lines)
    rc, _, _ = run_json(["git", str(repo.path), "--jobs", str(jobs)], capsys)
    assert rc == 0 and started == []
    token = github_token()
    repo.write("f2.txt", settings(token))
    sha = repo.commit("secret")
    repo.write("f3.txt", "more\n")
    repo.commit("after")
    rc, ahead, _ = run_json(["git", str(repo.path), "--jobs", str(jobs)], capsys)
    assert rc == 1 and started == [1] and used == [True]
    [f] = findings_for(ahead, token)
    assert (f["path"], f["commit"], f["commits_count"]) == ("f2.txt", sha, 2)
    monkeypatch.setattr(gitmod.CommitWalk, "lines", lambda self: None)  # git walks afterwards
    rc, after, _ = run_json(["git", str(repo.path), "--jobs", str(jobs)], capsys)
    for report in (ahead, after):
        report["stats"].pop("seconds", None)
    assert rc == 1 and ahead == after


def test_a_commit_walk_that_fails_leaves_the_walk_to_locate_blobs(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk started ahead is only a head start: when git fails there, or its output cannot
    be kept (a full disk), git walks again as before (and a real failure is reported as
    before)."""
    import errno

    from nhiscan.errors import GitError
    from nhiscan.sources import git as gitmod
    from nhiscan.sources.git import CommitWalk, locate_blobs, open_repo

    token = github_token()
    repo.write("a.env", settings(token))
    sha = repo.commit("a")
    rc, placed, _ = run_json(["git", str(repo.path), "--jobs", "1"], capsys)
    assert rc == 1

    def full_disk(self, chunk):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gitmod.CommitWalk, "_write", full_disk)
    walk = CommitWalk(open_repo(repo.path))
    try:
        assert walk.lines() is None
    finally:
        walk.close()
    rc, report, err = run_json(["git", str(repo.path), "--jobs", "1"], capsys)
    for r in (placed, report):
        r["stats"].pop("seconds", None)
    assert rc == 1 and report == placed and not error_lines(err)
    [f] = findings_for(report, token)
    assert (f["path"], f["commit"]) == ("a.env", sha)
    monkeypatch.undo()

    corrupt_loose_object(repo.path, sha)
    walk = CommitWalk(open_repo(repo.path))
    try:
        assert walk.lines() is None
        with pytest.raises(GitError, match="git log failed"):
            locate_blobs(open_repo(repo.path), {"0" * 40}, walk)
    finally:
        walk.close()


def test_what_reporting_needs_is_loaded_ahead_and_never_fails_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    import nhiscan.history as history
    from nhiscan.mapping import controls

    controls.load_mapping.cache_clear()
    history._ready_to_report()
    assert controls.load_mapping.cache_info().currsize == 1

    def broken() -> None:
        raise OSError("mapping data unreadable")

    monkeypatch.setattr(controls, "load_mapping", broken)
    history._ready_to_report()  # a head start only: reporting meets the error itself


@pytest.mark.parametrize("sweep", ["parallel", "too-small", "listing-fails"])
def test_workers_started_while_listing_are_used_or_closed(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sweep: str
) -> None:
    """Workers start before the blobs are listed when the packs are large: the sweep uses
    them, or closes them unused (a small sweep, or a listing that fails)."""
    import nhiscan.history as history
    from nhiscan.errors import GitError

    token = github_token()
    for i in range(4):
        repo.write(f"f{i}.txt", f"line {i}\n" * 300)
        repo.commit(f"c{i}")
    repo.write("f1.txt", settings(token))
    repo.commit("secret")
    repo.git("gc", "-q")
    monkeypatch.setattr(history, "_PREFORK_PACK_BYTES", 0)
    if sweep == "parallel":
        monkeypatch.setattr(history, "_PARALLEL_MIN_BYTES", 0)
    started: list[object] = []
    closed: list[object] = []
    submitted: list[object] = []
    real_init, real_close = history._Workers.__init__, history._Workers.close

    def spy_init(self, jobs, ruleset, options):  # type: ignore[no-untyped-def]
        started.append(self)
        real_init(self, jobs, ruleset, options)
        real_submit = self.pool.submit

        def submit(fn, *args):  # type: ignore[no-untyped-def]
            if fn is history._worker_scan:
                submitted.append(self)
            return real_submit(fn, *args)

        self.pool.submit = submit

    def spy_close(self):  # type: ignore[no-untyped-def]
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(history._Workers, "__init__", spy_init)
    monkeypatch.setattr(history._Workers, "close", spy_close)
    real_list = history.list_blobs
    started_before_listing: list[int] = []

    def listing(info, early=None):  # type: ignore[no-untyped-def]
        started_before_listing.append(len(started))
        if sweep == "listing-fails":
            raise GitError("git cat-file failed: simulated")
        return real_list(info, early)

    monkeypatch.setattr(history, "list_blobs", listing)
    # The parent's own prefilter is built only if the parent scans (workers build theirs).
    from nhiscan.engine.prefilter import HyperscanPrefilter

    pytest.importorskip("hyperscan")
    built_here: list[int] = []
    real_prefilter = HyperscanPrefilter.__init__

    def prefilter_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        built_here.append(os.getpid())  # (a worker appends to its own copy of the list)
        real_prefilter(self, *args, **kwargs)

    monkeypatch.setattr(HyperscanPrefilter, "__init__", prefilter_init)
    rc, out, err = run_cli(["git", str(repo.path), "--jobs", "2", "--format", "json"], capsys)
    assert built_here == ([os.getpid()] if sweep == "too-small" else [])
    assert started_before_listing == [1]
    assert len(started) == 1 and set(closed) == set(started)  # one set, started first, closed
    assert not started[0].pool._processes  # type: ignore[attr-defined]  # (all joined)
    if sweep == "parallel":
        assert rc == 1 and len(submitted) >= 2 and set(submitted) == set(started)  # every piece went to the workers started ahead
    elif sweep == "too-small":
        assert rc == 1 and submitted == []
    else:
        assert rc == 2 and "simulated" in err and "Traceback" not in err
