"""The CI recipes of docs/ci/, tried for real as far as this machine allows.

GitHub Actions and GitLab CI do not run here, so this test does what their runners do with the
recipes: it builds a project with a baselined credential on its base branch and a pull / merge
request on top, checks it out the way the runner would (the pull request's test merge for
GitHub, the merge request's head for GitLab; full or shallow history), then runs the shell of
the recipe's `run:` steps / `script:` lines with the variables the CI would set and
`${{ ... }}` expressions substituted. `nhiscan` comes from this virtual environment: lines
that `pip install` it are skipped, and so are the `uses:` actions (checkout is the simulated
clone, setup-python this venv, upload-sarif is checked by structure). No network.

Every secret is generated at test time and random: never a real credential.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitrepo import generic_password

PROJECT = Path(__file__).resolve().parent.parent
CI_DOCS = PROJECT / "docs" / "ci"
GITHUB_WORKFLOW = CI_DOCS / "github-actions.yml"
GITLAB_CI = CI_DOCS / "gitlab-ci.yml"
PRE_COMMIT_DOC = CI_DOCS / "pre-commit.md"
HOOKS_FILE = PROJECT / ".pre-commit-hooks.yaml"
SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
VENV_BIN = Path(sys.executable).parent
BASH = shutil.which("bash")
BASELINE = ".nhiscan-baseline.json"
PR_NUMBER = 7

pytestmark = pytest.mark.skipif(BASH is None, reason="the recipes' scripts need bash")


# ---- the sandbox: git and the commands' environment -----------------------------------------

@dataclass
class Sandbox:
    root: Path
    env: dict[str, str]

    def run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=cwd, env=env or self.env, capture_output=True, text=True, timeout=600
        )

    def git(self, cwd: Path, *args: str) -> str:
        proc = self.run(["git", *args], cwd)
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    def write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self, repo: Path, message: str) -> str:
        self.git(repo, "add", "-A")
        self.git(repo, "commit", "-q", "--no-verify", "-m", message)
        return self.git(repo, "rev-parse", "HEAD")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "GITHUB_", "RUNNER_", "CI_", "PRE_COMMIT"))
        and k not in ("CI", "GITLAB_CI")
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Ada Builder",
        GIT_AUTHOR_EMAIL="ada@example.test",
        GIT_COMMITTER_NAME="Ada Builder",
        GIT_COMMITTER_EMAIL="ada@example.test",
        NO_COLOR="1",
    )
    return Sandbox(root=tmp_path, env=env)


# ---- the project: a baselined credential on main, a pull request on top ---------------------

@dataclass
class Project:
    origin: Path
    """Bare repository: branches, refs/pull/N/{head,merge}, refs/merge-requests/N/head."""
    dev: Path
    old_secret: str
    new_secret: str | None
    new_secret_commit: str | None
    diff_base: str
    """Where the pull request branched off main."""
    head: str
    """The pull request's last commit."""
    merge: str
    """The pull request's test merge into main (what GitHub checks out)."""

    @property
    def url(self) -> str:
        return self.origin.as_uri()


def make_project(sb: Sandbox, *, new_secret: bool) -> Project:
    origin = sb.root / "origin.git"
    dev = sb.root / "dev"
    sb.git(sb.root, "init", "-q", "--bare", "-b", "main", str(origin))
    sb.git(sb.root, "init", "-q", "-b", "main", str(dev))
    sb.git(dev, "remote", "add", "origin", origin.as_uri())

    # main: a service with a credential committed long ago...
    old = generic_password()
    sb.write(dev / "README.md", "# service\n")
    sb.write(dev / "settings.py", f'import os\n\nDB_PASSWORD = "{old}"\nDEBUG = False\n')
    sb.commit(dev, "service settings")
    # ...accepted with the command docs/ci/README.md gives, before the CI job was added.
    proc = sb.run(["nhiscan", "baseline", "--git", ".", "-o", BASELINE], dev)
    assert proc.returncode == 0, proc.stderr
    assert old not in (dev / BASELINE).read_text(encoding="utf-8")
    sb.commit(dev, "nhiscan: baseline the existing findings")
    sb.git(dev, "push", "-q", "origin", "main")
    diff_base = sb.git(dev, "rev-parse", "HEAD")

    # The pull request. First commit: the settings are reformatted; the old credential's line
    # moves and is rewritten, so the pull request's diff adds it again (the baseline covers it).
    sb.git(dev, "switch", "-q", "-c", "feature")
    sb.write(dev / "settings.py", f'"""Settings."""\nimport os\n\nDEBUG = False\nDB_PASSWORD = "{old}"  # rotate\n')
    sb.write(dev / "app.py", 'from settings import DEBUG\n\nprint("debug" if DEBUG else "ok")\n')
    sb.commit(dev, "reformat the settings, add the app")
    new: str | None = None
    new_commit: str | None = None
    if new_secret:  # second commit: a new credential, in a new file
        new = generic_password()
        sb.write(dev / "service" / "db.py", f'DB_PASSWORD = "{new}"\n')
        new_commit = sb.commit(dev, "database access")
    head = sb.git(dev, "rev-parse", "HEAD")
    sb.git(dev, "push", "-q", "origin", "feature", f"feature:refs/pull/{PR_NUMBER}/head",
           f"feature:refs/merge-requests/{PR_NUMBER}/head")

    # Meanwhile main moves on, so the test merge is a real merge.
    sb.git(dev, "switch", "-q", "main")
    sb.write(dev / "CHANGELOG.md", "## unreleased\n")
    sb.commit(dev, "changelog")
    sb.git(dev, "push", "-q", "origin", "main")

    # GitHub's test merge of the pull request: main as first parent.
    sb.git(dev, "switch", "-q", "--detach", "main")
    sb.git(dev, "merge", "-q", "--no-ff", "-m", f"Merge {head} into main", "feature")
    merge = sb.git(dev, "rev-parse", "HEAD")
    sb.git(dev, "push", "-q", "origin", f"HEAD:refs/pull/{PR_NUMBER}/merge")
    sb.git(dev, "switch", "-q", "main")
    return Project(origin=origin, dev=dev, old_secret=old, new_secret=new, new_secret_commit=new_commit,
                   diff_base=diff_base, head=head, merge=merge)


def github_checkout(sb: Sandbox, project: Project, *, ref: str, fetch_depth: int) -> Path:
    """What actions/checkout does: init, fetch (all branches when fetch-depth is 0), check out."""
    ws = sb.root / "github-workspace"
    sb.git(sb.root, "init", "-q", str(ws))
    sb.git(ws, "remote", "add", "origin", project.url)
    local = ref.replace("refs/heads/", "refs/remotes/origin/").replace("refs/pull/", "refs/remotes/pull/")
    if fetch_depth == 0:
        sb.git(ws, "fetch", "-q", "--prune", "--no-recurse-submodules", "origin",
               "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
        sb.git(ws, "fetch", "-q", "--no-recurse-submodules", "origin", f"+{ref}:{local}")
    else:
        sb.git(ws, "fetch", "-q", "--no-tags", "--prune", "--no-recurse-submodules",
               f"--depth={fetch_depth}", "origin", f"+{ref}:{local}")
    if ref.startswith("refs/heads/"):
        sb.git(ws, "checkout", "-q", "--force", "-B", ref.removeprefix("refs/heads/"), local)
    else:
        sb.git(ws, "checkout", "-q", "--force", "--detach", local)
    return ws


def gitlab_clone(sb: Sandbox, project: Project, *, sha: str, mr_ref: str | None) -> Path:
    """What the GitLab runner does with GIT_DEPTH: 0: fetch branches (and the MR ref), check out the sha."""
    build = sb.root / "gitlab-build"
    sb.git(sb.root, "init", "-q", str(build))
    sb.git(build, "remote", "add", "origin", project.url)
    refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    if mr_ref:
        refspecs.append(f"+{mr_ref}:{mr_ref.replace('refs/', 'refs/remotes/origin/', 1)}")
    sb.git(build, "fetch", "-q", "--prune", "origin", *refspecs)
    sb.git(build, "checkout", "-q", "-f", sha)
    return build


# ---- a small GitHub Actions runner: run: steps, ${{ }} expressions, step conditions ---------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepResult:
    name: str
    kind: str  # "run", "uses" or "skipped"
    code: int = 0
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    conclusion: str = "success"


@dataclass
class JobResult:
    steps: list[StepResult]

    @property
    def failed(self) -> bool:
        return any(s.conclusion == "failure" for s in self.steps)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.kind}, exit {s.code})\n{s.output}" for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


def load_workflow() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(GITHUB_WORKFLOW.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def step_name(step: dict[str, Any], index: int) -> str:
    return str(step.get("name") or step.get("uses") or step.get("id") or f"step {index}")


def run_github_job(
    workflow: dict[str, Any], job_id: str, sb: Sandbox, ws: Path, github: dict[str, str]
) -> JobResult:
    job = workflow["jobs"][job_id]
    temp = sb.root / "runner-temp"
    temp.mkdir(exist_ok=True)
    context = {f"github.{k}": v for k, v in github.items()} | {"runner.temp": str(temp)}
    states: dict[str, StepResult] = {}

    def value(expr: str) -> str:
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if m:
            return states[m[1]].outputs.get(m[2], "") if m[1] in states else ""
        if expr in context:
            return context[expr]
        raise AssertionError(f"this test does not know the expression ${{{{ {expr} }}}}")

    def substitute(text: Any) -> str:
        return EXPRESSION.sub(lambda m: value(m[1]), str(text))

    def should_run(cond: Any, failed: bool) -> bool:
        if cond is None:
            return not failed
        expr = str(cond).strip()
        m = EXPRESSION.fullmatch(expr)
        if m:
            expr = m[1]
        has_status_check, ok = False, True
        for term in (t.strip() for t in expr.split("&&")):
            if term in ("always()", "!cancelled()"):
                has_status_check = True
            elif term == "success()":
                has_status_check, ok = True, ok and not failed
            elif m := re.fullmatch(r"steps\.([\w-]+)\.(conclusion|outcome) == '(\w+)'", term):
                ok = ok and m[1] in states and states[m[1]].conclusion == m[3]
            elif m := re.fullmatch(r"hashFiles\('([^']+)'\) != ''", term):
                ok = ok and (ws / m[1]).is_file()
            else:
                raise AssertionError(f"this test cannot evaluate the condition {term!r}")
        return ok and (has_status_check or not failed)

    github_env = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(ws),
        "RUNNER_TEMP": str(temp),
        "GITHUB_EVENT_NAME": github["event_name"],
        "GITHUB_REF": github["ref"],
        "GITHUB_SHA": github["sha"],
        "GITHUB_BASE_REF": github.get("base_ref", ""),
        "GITHUB_HEAD_REF": github.get("head_ref", ""),
    }
    env = sb.env | github_env
    env |= {k: substitute(v) for k, v in (workflow.get("env") or {}).items()}
    env |= {k: substitute(v) for k, v in (job.get("env") or {}).items()}
    shell = ((job.get("defaults") or workflow.get("defaults") or {}).get("run") or {}).get("shell", "bash")
    assert shell == "bash", "the recipe's steps are bash"

    results: list[StepResult] = []
    failed = False
    for i, step in enumerate(job["steps"]):
        name = step_name(step, i)
        if not should_run(step.get("if"), failed):
            result = StepResult(name=name, kind="skipped", conclusion="skipped")
        elif "uses" in step:
            result = StepResult(name=name, kind="uses")
        else:
            script = substitute(step["run"])
            lines = [line for line in script.splitlines() if "pip install" not in line]
            if not any(line.strip() for line in lines):
                result = StepResult(name=name, kind="uses", output="(pip install: nhiscan is this venv's)")
            else:
                script_file = temp / f"step-{i}.sh"
                script_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
                output_file = temp / f"output-{i}"
                output_file.write_text("", encoding="utf-8")
                step_env = env | {"GITHUB_OUTPUT": str(output_file)}
                step_env |= {k: substitute(v) for k, v in (step.get("env") or {}).items()}
                proc = sb.run([BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script_file)], ws, step_env)
                outputs = dict(
                    line.split("=", 1) for line in output_file.read_text(encoding="utf-8").splitlines() if "=" in line
                )
                ok = proc.returncode == 0 or step.get("continue-on-error") is True
                result = StepResult(name=name, kind="run", code=proc.returncode, output=proc.stdout + proc.stderr,
                                    outputs=outputs, conclusion="success" if ok else "failure")
        failed = failed or result.conclusion == "failure"
        results.append(result)
        if "id" in step:
            states[step["id"]] = result
    return JobResult(results)


def pull_request_context(project: Project) -> dict[str, str]:
    return {
        "event_name": "pull_request",
        "base_ref": "main",
        "head_ref": "feature",
        "ref": f"refs/pull/{PR_NUMBER}/merge",
        "sha": project.merge,
    }


# ---- a small GitLab runner: extends, rules, variables, script -------------------------------

def load_gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB_CI.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def gitlab_job(doc: dict[str, Any], name: str) -> dict[str, Any]:
    job = doc[name]
    parents = job.get("extends", [])
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = _deep_merge(resolved, gitlab_job(doc, parent))
    return _deep_merge(resolved, {k: v for k, v in job.items() if k != "extends"})


def _expand(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], ""), text)


def gitlab_rule_matches(job: dict[str, Any], env: dict[str, str]) -> bool:
    for rule in job.get("rules", []):
        m = re.fullmatch(r'\$(\w+) == (?:"([^"]*)"|\$(\w+))', rule["if"].strip())
        assert m, f"this test cannot evaluate the rule {rule['if']!r}"
        if env.get(m[1], "") == (m[2] if m[2] is not None else env.get(m[3], "")):
            return rule.get("when", "on_success") != "never"
    return False


def run_gitlab_job(doc: dict[str, Any], name: str, sb: Sandbox, build: Path, ci: dict[str, str]) -> tuple[int, str]:
    job = gitlab_job(doc, name)
    env = sb.env | {"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(build)} | ci
    assert gitlab_rule_matches(job, env), f"{name} would not run in this pipeline"
    for k, v in {**(doc.get("variables") or {}), **(job.get("variables") or {})}.items():
        env[k] = _expand(str(v), env)
    lines = [str(item) for item in job["script"] if "pip install" not in str(item)]
    script = sb.root / f"{name}.sh"
    script.write_text("set -eo pipefail\n" + "\n".join(lines) + "\n", encoding="utf-8")
    proc = sb.run([BASH, "--noprofile", "--norc", str(script)], build, env)
    return proc.returncode, proc.stdout + proc.stderr


def merge_request_variables(project: Project) -> dict[str, str]:
    return {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": str(PR_NUMBER),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": project.diff_base,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
        "CI_COMMIT_SHA": project.head,
        "CI_COMMIT_REF_NAME": "feature",
        "CI_DEFAULT_BRANCH": "main",
    }


def push_variables(sha: str) -> dict[str, str]:
    return {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main",
            "CI_COMMIT_SHA": sha, "CI_DEFAULT_BRANCH": "main"}


# ---- checks shared by the tests ---------------------------------------------------------------

def nhiscan_commands(script: str) -> list[list[str]]:
    """The nhiscan invocations in a shell script, up to the first operator or redirection."""
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if not line.startswith("nhiscan "):
            continue
        words = []
        for word in shlex.split(line, comments=True):
            if word in ("||", "&&", "|", ";") or word.startswith(">"):
                break
            words.append(word)
        commands.append(words[1:])
    return commands


def assert_parses(argv: list[str]) -> None:
    """The options exist and their values are accepted (the command is not run)."""
    import click

    from nhiscan.cli.main import cli

    ctx = click.Context(cli)
    command = cli.get_command(ctx, argv[0])
    assert command is not None, f"no command nhiscan {argv[0]}"
    sub = command
    rest = argv[1:]
    while isinstance(sub, click.Group):
        sub = sub.get_command(ctx, rest[0])
        assert sub is not None, f"no command in {argv}"
        rest = rest[1:]
    try:
        sub.make_context(argv[0], rest, parent=ctx)
    except click.UsageError as exc:
        raise AssertionError(f"nhiscan {' '.join(argv)}: {exc.format_message()}") from None


def read_sarif(path: Path) -> dict[str, Any]:
    assert path.is_file(), "no SARIF written"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0"
    import jsonschema

    jsonschema.validate(doc, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    return doc


def sarif_results(doc: dict[str, Any]) -> list[tuple[str, str, int, dict[str, Any]]]:
    out = []
    for run in doc["runs"]:
        for r in run["results"]:
            loc = r["locations"][0]["physicalLocation"]
            out.append((loc["artifactLocation"]["uri"], r["ruleId"], loc["region"]["startLine"], r))
    return out


# ---- GitHub Actions ---------------------------------------------------------------------------

def test_github_workflow_has_the_triggers_permissions_and_steps_it_needs() -> None:
    wf = load_workflow()
    assert "pull_request" in wf["on"]
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"]["security-events"] == "write"
    assert wf["permissions"]["contents"] == "read"

    pr = wf["jobs"]["pull-request"]
    assert pr["if"] == "github.event_name == 'pull_request'"
    steps = pr["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert all("@" in s["uses"] for s in steps if "uses" in s), "actions are pinned"
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    upload = uses["github/codeql-action/upload-sarif"]
    assert upload["with"] == {"sarif_file": "nhiscan.sarif", "category": "nhiscan"}
    assert "!cancelled()" in upload["if"], "the SARIF is uploaded also when the scan found something"

    scan = next(s for s in steps if s.get("id") == "nhiscan")
    assert (
        'nhiscan git --range "origin/${{ github.base_ref }}..HEAD" --baseline .nhiscan-baseline.json '
        "--format sarif -o nhiscan.sarif" in scan["run"]
    )
    order = [s.get("id") or s.get("uses", "").split("@")[0] or s.get("name") for s in steps]
    gate = steps[-1]
    assert order.index("nhiscan") < order.index("github/codeql-action/upload-sarif") < len(steps) - 1
    assert "steps.nhiscan.outputs.exit-code" in gate["env"]["NHISCAN_EXIT"]
    assert any("pip install" in s.get("run", "") for s in steps)

    push = wf["jobs"]["default-branch"]
    assert push["if"] == "github.event_name == 'push'"
    push_scan = next(s for s in push["steps"] if s.get("id") == "nhiscan")
    assert "nhiscan scan . " in push_scan["run"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in push["steps"])

    for job in wf["jobs"].values():
        for step in job["steps"]:
            for argv in nhiscan_commands(EXPRESSION.sub("main", step.get("run", ""))):
                assert_parses(argv)


def test_github_pull_request_adding_a_secret_fails_after_uploading_it(sandbox: Sandbox) -> None:
    project = make_project(sandbox, new_secret=True)
    ws = github_checkout(sandbox, project, ref=f"refs/pull/{PR_NUMBER}/merge", fetch_depth=0)
    job = run_github_job(load_workflow(), "pull-request", sandbox, ws, pull_request_context(project))

    assert job.failed, job.log
    scan = job.step("Scan the pull request's commits")
    assert scan.conclusion == "success" and scan.outputs["exit-code"] == "1", job.log
    assert job.step("Upload SARIF to code scanning").kind == "uses", "the upload runs after exit 1"
    gate = job.step("Fail on new credentials or scan errors")
    assert gate.code == 1 and "adds credentials" in gate.output, job.log

    sarif_path = ws / "nhiscan.sarif"
    text = sarif_path.read_text(encoding="utf-8")
    doc = read_sarif(sarif_path)
    results = sarif_results(doc)
    assert [(uri, rule, line) for uri, rule, line, _ in results] == [("service/db.py", "generic-credential", 1)], job.log
    assert results[0][3]["properties"]["commit"] == project.new_secret_commit
    assert all("automationDetails" not in run for run in doc["runs"]), "upload-sarif's category applies"
    assert project.new_secret and project.new_secret not in text
    assert project.old_secret not in text
    assert "service/db.py:1: generic-credential" in scan.output
    assert "settings.py" not in scan.output, "the baselined credential is not reported, though its line moved"


def test_github_pull_request_adding_no_secret_passes(sandbox: Sandbox) -> None:
    project = make_project(sandbox, new_secret=False)
    ws = github_checkout(sandbox, project, ref=f"refs/pull/{PR_NUMBER}/merge", fetch_depth=0)
    job = run_github_job(load_workflow(), "pull-request", sandbox, ws, pull_request_context(project))

    assert not job.failed, job.log
    assert job.step("Scan the pull request's commits").outputs["exit-code"] == "0"
    assert job.step("Upload SARIF to code scanning").kind == "uses"
    assert sarif_results(read_sarif(ws / "nhiscan.sarif")) == []
    assert "no new credentials" in job.step("Fail on new credentials or scan errors").output


def test_github_shallow_checkout_fails_the_job_instead_of_passing(sandbox: Sandbox) -> None:
    """Without fetch-depth: 0 the base branch is not in the clone: exit 2, never a silent pass."""
    project = make_project(sandbox, new_secret=True)
    ws = github_checkout(sandbox, project, ref=f"refs/pull/{PR_NUMBER}/merge", fetch_depth=1)
    job = run_github_job(load_workflow(), "pull-request", sandbox, ws, pull_request_context(project))

    assert job.failed
    scan = job.step("Scan the pull request's commits")
    assert scan.outputs["exit-code"] == "2", job.log
    assert "origin/main" in scan.output
    assert job.step("Fail on new credentials or scan errors").code == 2


def test_github_push_to_the_default_branch_scans_the_tree(sandbox: Sandbox) -> None:
    project = make_project(sandbox, new_secret=False)
    wf = load_workflow()
    main_sha = sandbox.git(project.dev, "rev-parse", "main")
    ws = github_checkout(sandbox, project, ref="refs/heads/main", fetch_depth=1)
    push = {"event_name": "push", "ref": "refs/heads/main", "sha": main_sha}
    job = run_github_job(wf, "default-branch", sandbox, ws, push)
    assert not job.failed, job.log
    assert sarif_results(read_sarif(ws / "nhiscan.sarif")) == []

    # Someone pushes a credential straight to main.
    leaked = generic_password()
    sandbox.write(project.dev / "deploy.py", f'DEPLOY_PASSWORD = "{leaked}"\n')
    sha = sandbox.commit(project.dev, "deploy script")
    sandbox.git(project.dev, "push", "-q", "origin", "main")
    shutil.rmtree(ws)
    ws = github_checkout(sandbox, project, ref="refs/heads/main", fetch_depth=1)
    job = run_github_job(wf, "default-branch", sandbox, ws, push | {"sha": sha})
    assert job.failed
    assert job.step("Scan the tree").outputs["exit-code"] == "1"
    assert [(u, line) for u, _, line, _ in sarif_results(read_sarif(ws / "nhiscan.sarif"))] == [("deploy.py", 1)]
    assert leaked not in (ws / "nhiscan.sarif").read_text(encoding="utf-8")


# ---- GitLab CI ----------------------------------------------------------------------------------

def test_gitlab_jobs_have_the_rules_depth_cache_and_artifact_they_need() -> None:
    doc = load_gitlab()
    mr = gitlab_job(doc, "nhiscan-merge-request")
    assert mr["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert str(mr["variables"]["GIT_DEPTH"]) == "0"
    pip_cache = mr["variables"]["PIP_CACHE_DIR"]
    assert pip_cache.startswith("$CI_PROJECT_DIR/")
    assert mr["cache"]["paths"] == [pip_cache.removeprefix("$CI_PROJECT_DIR/")]
    assert mr["artifacts"]["when"] == "always"
    assert mr["artifacts"]["paths"] == ["nhiscan-report.json"]
    script = "\n".join(mr["script"])
    assert (
        'nhiscan git --range "$CI_MERGE_REQUEST_DIFF_BASE_SHA..$CI_COMMIT_SHA" --baseline .nhiscan-baseline.json '
        "--format json -o nhiscan-report.json" in script
    )
    assert any("pip install" in line for line in mr["script"])

    branch = gitlab_job(doc, "nhiscan-default-branch")
    assert branch["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert "nhiscan scan . " in "\n".join(branch["script"])

    env_mr = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main"}
    env_push = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    assert gitlab_rule_matches(mr, env_mr) and not gitlab_rule_matches(mr, env_push)
    assert gitlab_rule_matches(branch, env_push) and not gitlab_rule_matches(branch, env_mr)

    for job in (mr, branch):
        for argv in nhiscan_commands("\n".join(job["script"])):
            assert_parses(argv)


@pytest.mark.parametrize("new_secret", [True, False], ids=["new-secret", "nothing-new"])
def test_gitlab_merge_request(sandbox: Sandbox, new_secret: bool) -> None:
    project = make_project(sandbox, new_secret=new_secret)
    build = gitlab_clone(sandbox, project, sha=project.head, mr_ref=f"refs/merge-requests/{PR_NUMBER}/head")
    code, log = run_gitlab_job(load_gitlab(), "nhiscan-merge-request", sandbox, build, merge_request_variables(project))

    report_path = build / "nhiscan-report.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    found = [(f["path"], f["rule_id"], f["line"], f["commit"]) for f in report["findings"]]
    assert project.old_secret not in report_path.read_text(encoding="utf-8")
    assert "settings.py" not in log, "the baselined credential is not reported, though its line moved"
    if new_secret:
        assert code == 1, log
        assert found == [("service/db.py", "generic-credential", 1, project.new_secret_commit)]
        assert project.new_secret and project.new_secret not in report_path.read_text(encoding="utf-8")
        assert f"service/db.py:1: generic-credential [medium]" in log
    else:
        assert code == 0, log
        assert found == []


def test_gitlab_default_branch(sandbox: Sandbox) -> None:
    project = make_project(sandbox, new_secret=False)
    sha = sandbox.git(project.dev, "rev-parse", "main")
    build = gitlab_clone(sandbox, project, sha=sha, mr_ref=None)
    code, log = run_gitlab_job(load_gitlab(), "nhiscan-default-branch", sandbox, build, push_variables(sha))
    assert code == 0, log
    assert json.loads((build / "nhiscan-report.json").read_text(encoding="utf-8"))["findings"] == []


# ---- pre-commit -----------------------------------------------------------------------------------

def pre_commit_snippet() -> dict[str, Any]:
    text = PRE_COMMIT_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "pre-commit.md has one .pre-commit-config.yaml snippet"
    return yaml.safe_load(blocks[0])  # type: ignore[no-any-return]


def test_pre_commit_snippet_names_the_shipped_hooks(sandbox: Sandbox) -> None:
    snippet = pre_commit_snippet()
    shipped = {h["id"]: h for h in yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))}
    hooks = snippet["repos"][0]["hooks"]
    assert [h["id"] for h in hooks] == ["nhiscan", "nhiscan-push"]
    assert all(h["id"] in shipped for h in hooks)
    config = sandbox.root / "pre-commit-config.yaml"
    config.write_text(yaml.safe_dump(snippet), encoding="utf-8")
    pre_commit = VENV_BIN / "pre-commit"
    if pre_commit.exists():
        proc = sandbox.run([str(pre_commit), "validate-config", str(config)], sandbox.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    commands = {"nhiscan": ["scan", "--staged"], "nhiscan-push": ["git", "--range", "a..b"]}
    for h in hooks:  # the snippet's args are accepted by the hook's command
        assert_parses(commands[h["id"]] + list(h.get("args", [])))
    for block in re.findall(r"```sh\n(.*?)```", PRE_COMMIT_DOC.read_text(encoding="utf-8"), flags=re.S):
        for argv in nhiscan_commands(block):
            assert_parses(argv)


@pytest.mark.skipif(not (VENV_BIN / "pre-commit").exists(), reason="pre-commit is not installed here")
def test_pre_commit_hooks_with_the_snippets_baseline(sandbox: Sandbox) -> None:
    """The snippet's hooks, run by pre-commit from this venv (language: system), with its args."""
    shipped = {h["id"]: h for h in yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))}
    hooks = []
    for h in pre_commit_snippet()["repos"][0]["hooks"]:
        local = {k: v for k, v in shipped[h["id"]].items() if k != "minimum_pre_commit_version"}
        hooks.append(local | {"language": "system", "args": h["args"]})
    sb = sandbox
    env = sb.env | {"PRE_COMMIT_HOME": str(sb.root / "pre-commit-home")}
    origin = sb.root / "origin.git"
    repo = sb.root / "repo"
    sb.git(sb.root, "init", "-q", "--bare", "-b", "main", str(origin))
    sb.git(sb.root, "init", "-q", "-b", "main", str(repo))
    sb.git(repo, "remote", "add", "origin", origin.as_uri())
    old = generic_password()
    sb.write(repo / "settings.py", f'DB_PASSWORD = "{old}"\n')
    sb.write(repo / ".pre-commit-config.yaml", yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))
    sb.commit(repo, "initial")
    # The doc's adoption commands, verbatim.
    assert sb.run(["nhiscan", "git", "."], repo).returncode == 1
    assert sb.run(["nhiscan", "baseline", "--git", ".", "-o", BASELINE], repo).returncode == 0
    sb.commit(repo, "nhiscan: baseline")
    sb.git(repo, "push", "-q", "origin", "main")
    proc = sb.run([str(VENV_BIN / "pre-commit"), "install", "--hook-type", "pre-commit", "--hook-type", "pre-push"], repo, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return sb.run(["git", *args], repo, env)

    # Moving the baselined credential is allowed by the commit hook...
    sb.write(repo / "settings.py", f'# settings\n\nDB_PASSWORD = "{old}"  # moved\n')
    git("add", "-A")
    proc = git("commit", "-q", "-m", "move it")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # ...and by the push hook, on an existing branch and on a new one.
    assert git("push", "-q", "origin", "main").returncode == 0
    git("switch", "-q", "-c", "topic")
    sb.write(repo / "app.py", "print('ok')\n")
    git("add", "-A")
    assert git("commit", "-q", "-m", "app").returncode == 0
    proc = git("push", "-q", "origin", "topic")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # A new credential is blocked at commit time...
    new = generic_password()
    sb.write(repo / "db.py", f'DB_PASSWORD = "{new}"\n')
    git("add", "-A")
    proc = git("commit", "-q", "-m", "db")
    assert proc.returncode != 0
    assert "db.py:1" in proc.stdout + proc.stderr and new not in proc.stdout + proc.stderr
    # ...and, committed with --no-verify, at push time.
    assert git("commit", "-q", "--no-verify", "-m", "db").returncode == 0
    proc = git("push", "-q", "origin", "topic")
    assert proc.returncode != 0
    assert "db.py:1" in proc.stdout + proc.stderr


# ---- the commands in the adoption guide ------------------------------------------------------------

def test_adoption_guide_commands_parse_and_its_config_loads(sandbox: Sandbox) -> None:
    text = (CI_DOCS / "README.md").read_text(encoding="utf-8")
    (toml,) = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    sandbox.write(sandbox.root / "project" / ".nhiscan.toml", toml)
    proc = sandbox.run(["nhiscan", "scan", "."], sandbox.root / "project")
    assert proc.returncode == 0, proc.stderr
    commands = [
        argv
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        for argv in nhiscan_commands(block)
    ]
    assert {argv[0] for argv in commands} >= {"scan", "git", "baseline", "inventory"}
    for argv in commands:
        assert_parses(argv)
    for flag in ("--baseline", "--fail-on", "--report-unused"):
        assert any(flag in argv for argv in commands), flag
