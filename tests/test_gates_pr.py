"""Issue 13's evasions of the pull-request gates, replayed on throwaway repositories: each one fails.

Every test builds a copy of this repository as a git repo (`gates_support.make_pr_repo`), makes a
PR branch the way a contributor who wants a change through would, and runs `pr-check` from a
checkout of the base (the base's own `mlrepo`, rules and hooks).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import train
from gates_support import commit, failed_rules, git, make_pr_repo, mlrepo, pr_check

MODEL = "models/IrisClassifier"
CONFIG = "conf/pipeline/train_iris.yaml"


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A copy of the repository on main, with the gates' files."""
    return make_pr_repo(tmp_path / "repo")


def _branch(repo: Path, name: str) -> None:
    git(repo, "checkout", "-q", "-b", name)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _judge_from_base(repo: Path, head: str, *args: str, env: dict[str, str] | None = None):  # noqa: ANN202
    """Check out the base, then judge `head` read from git (as CI's pull_request_target does)."""
    git(repo, "checkout", "-q", "main")
    return pr_check(repo, "--head", head, *args, env=env)


def test_pr_cannot_switch_off_its_gates(pr_repo: Path) -> None:
    """A PR that edits the checker to skip a rule, adds raw data and makes its author a director fails."""
    _branch(pr_repo, "dataset/iris")
    _edit(pr_repo / "mlrepo/govern/checks/data.py", "    yield from _raw_data(repo, outs)\n", "")
    _edit(pr_repo / "conf/governance.yaml", 'directors: ["@dev-director", "dev-director"]',
          'directors: ["@dev-director", "dev-director", "mallory"]')  # fmt: skip
    (pr_repo / "datasets/iris/rows.txt").write_text("a,b,c\n" + "1.0,2.0,3\n" * 50)
    (pr_repo / "Pipfile").write_text((pr_repo / "Pipfile").read_text() + "\n")
    commit(pr_repo, "skip a rule, add data, make me a director")

    own = pr_check(pr_repo, "--no-pre-commit", env={"PR_AUTHOR": "mallory"})  # the head judging itself
    assert "RAW-DATA" not in own.stdout, own.stdout

    done = _judge_from_base(pr_repo, "dataset/iris", "--no-pre-commit", env={"PR_AUTHOR": "mallory"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "RAW-DATA datasets/iris/rows.txt:1 CSV-like text (known by its bytes)" in done.stdout
    for path in ("Pipfile", "conf/governance.yaml", "mlrepo/govern/checks/data.py"):
        assert f"PR-DIRECTOR {path}:1 changed by mallory" in done.stdout, done.stdout
    assert "need the approval of @dev-director" in done.stdout
    assert git(pr_repo, "status", "--porcelain") == ""

    local = _judge_from_base(pr_repo, "dataset/iris", "--no-pre-commit", env={"PR_AUTHOR": "", "CI": ""})
    assert "PR-DIRECTOR" not in failed_rules(local.stdout)
    assert "checked in CI (PR_AUTHOR), not from your git config" in local.stdout


def test_base_hooks_judge_and_working_tree_stays(pr_repo: Path) -> None:
    """The base's hooks run on the head (a PR cannot drop them), in a scratch tree; each output is shown."""
    _branch(pr_repo, "model/IrisClassifier")
    config = pr_repo / ".pre-commit-config.yaml"
    config.write_text(re.sub(r"      - id: ruff-format\n(        .*\n)+", "", config.read_text()))
    sloppy = pr_repo / MODEL / "common.py"
    sloppy.write_text(sloppy.read_text() + "\n\nSCALE   =   [1,2,\n    3]\n")
    commit(pr_repo, "drop ruff-format, sloppy code")
    before = sloppy.read_text()

    done = pr_check(pr_repo, env={"PR_AUTHOR": "@dev-director"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PR-PRE-COMMIT .pre-commit-config.yaml:1 hook failed: ruff format" in done.stdout
    assert "    | " in done.stdout and "reformatted" in done.stdout  # the hook's own output
    assert sloppy.read_text() == before
    assert git(pr_repo, "status", "--porcelain") == ""
    assert len(git(pr_repo, "worktree", "list").splitlines()) == 1


@pytest.mark.slow
def test_model_run_gate_asks_for_the_model_by_identity(
    pr_repo: Path, tracking_uri: str, tmp_path: Path
) -> None:
    """A config-only change needs a run; a tag-only run does not vouch; a cached earlier run does."""
    _branch(pr_repo, "model/IrisClassifier")
    _edit(pr_repo / CONFIG, "  C: 1.0", "  C: 0.5")
    commit(pr_repo, "IrisClassifier: C=0.5")

    missing = pr_check(pr_repo, "--no-pre-commit")
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert f"PR-MODEL-RUN {CONFIG}:1 pipeline train_iris: the PR changes its run.uid" in missing.stdout
    assert "`python -m train pipeline=train_iris`" in missing.stdout
    uid = re.search(r"run\.uid=([0-9a-f]{32})", missing.stdout).group(1)

    from mlflow.tracking import MlflowClient

    fake_store = f"sqlite:///{tmp_path / 'fake.db'}"
    client = MlflowClient(fake_store)
    experiment = client.create_experiment("train_iris")
    run = client.create_run(experiment, tags={"run.uid": uid, "pipeline": "train_iris"})
    client.set_terminated(run.info.run_id, "FINISHED")
    tag_only = pr_check(pr_repo, "--no-pre-commit", "--tracking-uri", fake_store)
    assert "PR-MODEL-RUN" in tag_only.stdout and "no logged model whose MLmodel file loads" in tag_only.stdout

    # The run was made before the commit (the runner's cached mode will not log again): it counts.
    git(pr_repo, "reset", "-q", "--soft", "HEAD~1")
    ran = train("pipeline=train_iris", cwd=pr_repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    commit(pr_repo, "IrisClassifier: C=0.5")
    again = train("pipeline=train_iris", cwd=pr_repo)
    assert again.returncode == 0 and "cached" in (again.stdout + again.stderr).lower()
    passed = pr_check(pr_repo, "--no-pre-commit")
    assert "PR-MODEL-RUN" not in failed_rules(passed.stdout), passed.stdout
    run_id = _run_id(ran.stdout)
    accepted = f"note: PR-MODEL-RUN: pipeline train_iris: accepted run {run_id} (run.uid {uid}"
    assert accepted in passed.stdout, passed.stdout

    # PR-BODY asks for words, not an id; an id it names must be the run the gate accepted.
    body = tmp_path / "body.md"
    words = "## Description\n\nThe classifier regularizes more, C is half.\n\n## Motivation\n\n"
    words += "The wider margin generalizes better on the held-out rows.\n\n## Run\n\n"
    for named, ok in (("", True), (run_id, True), (uid, True), ("0123456789abcdef0123456789abcdef", False)):
        body.write_text(words + named + "\n")
        judged = pr_check(pr_repo, "--no-pre-commit", "--body", str(body))
        assert (judged.returncode == 0) is ok, judged.stdout + judged.stderr
    wrong = "names run 0123456789abcdef0123456789abcdef, but the run the model-run gate accepted is"
    assert f"PR-BODY .github/pull_request_template.md:1 the PR body {wrong} {run_id}" in judged.stdout
    assert passed.returncode == 0, passed.stdout + passed.stderr


def _run_id(stdout: str) -> str:
    return re.search(r"Run ([0-9a-f]{32}) FINISHED", stdout).group(1)


def test_one_piece_per_branch(pr_repo: Path) -> None:
    """A PR over a model and a dataset warns (fails when strict); a branch not named after its piece warns."""
    _branch(pr_repo, "feature/mixed")
    _edit(
        pr_repo / MODEL / "common.py",
        '"""',
        '"""IrisClassifier: ',
    ) if False else None  # noqa: B018
    for folder in (MODEL, "datasets/iris"):  # notes: no run.uid changes, the test stays quick
        (pr_repo / folder / "NOTES.md").write_text("Where the names come from.\n")
    commit(pr_repo, "two pieces")
    done = pr_check(pr_repo, "--no-pre-commit")
    assert "warning: PR-ONE-PIECE" in done.stdout and "dataset iris, model IrisClassifier" in done.stdout
    assert "PR-ONE-PIECE" not in failed_rules(done.stdout)

    git(pr_repo, "checkout", "-q", "main")
    _edit(pr_repo / "conf/governance.yaml", "one_piece_per_pr: warn", "one_piece_per_pr: strict")
    commit(pr_repo, "strict")
    git(pr_repo, "checkout", "-q", "feature/mixed")
    git(pr_repo, "rebase", "-q", "main")
    strict = pr_check(pr_repo, "--no-pre-commit", "--base", "main")
    assert "PR-ONE-PIECE" in failed_rules(strict.stdout), strict.stdout

    git(pr_repo, "checkout", "-q", "-b", "wip", "main")
    (pr_repo / MODEL / "NOTES.md").write_text("Names.\n")
    commit(pr_repo, "one piece, badly named branch")
    named = pr_check(pr_repo, "--no-pre-commit")
    assert "branch `wip` does not say its piece: name it model/IrisClassifier" in named.stdout
    good = pr_check(pr_repo, "--no-pre-commit", "--head-name", "model/IrisClassifier/v2")
    assert "PR-ONE-PIECE" not in good.stdout


def test_pr_body_explains_itself(pr_repo: Path, tmp_path: Path) -> None:
    """The template's own text fails; real words pass; a model change must name its run id."""
    _branch(pr_repo, "model/IrisClassifier")
    (pr_repo / MODEL / "NOTES.md").write_text("Where the class names come from.\n")
    commit(pr_repo, "notes")
    skipped = pr_check(pr_repo, "--no-pre-commit")
    assert "note: PR-BODY: skipped" in skipped.stdout

    body = tmp_path / "body.md"
    body.write_text((pr_repo / ".github/pull_request_template.md").read_text())
    stock = pr_check(pr_repo, "--no-pre-commit", "--body", str(body))
    assert "PR-BODY" in failed_rules(stock.stdout), stock.stdout
    assert "Description has 0 real word(s)" in stock.stdout and "Motivation has 0" in stock.stdout

    body.write_text(  # no run id: the model-run gate finds the run, the body need not paste it
        "## Description\n\nA comment that names the shared constants of the Iris classifier.\n\n"
        "## Motivation\n\nNew readers asked where the class names and defaults come from.\n"
    )
    filled = pr_check(pr_repo, "--no-pre-commit", "--body", str(body))
    assert "PR-BODY" not in filled.stdout, filled.stdout
    missing = pr_check(pr_repo, "--no-pre-commit", "--body", str(pr_repo / "nope.md"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_data_added_then_deleted_in_the_pr_fails(pr_repo: Path) -> None:
    """Every file the PR's commits add is judged, also one a later commit deletes."""
    _branch(pr_repo, "dataset/iris")
    (pr_repo / "datasets/iris/dump.bin").write_bytes(b"\x93NUMPY\x01\x00" + b"0" * 1024)
    commit(pr_repo, "add an array")
    (pr_repo / "datasets/iris/dump.bin").unlink()
    commit(pr_repo, "remove it again")
    done = pr_check(pr_repo, "--no-pre-commit")
    assert "PR-ADDED-DATA datasets/iris/dump.bin:1 commit" in done.stdout, done.stdout
    assert "a NumPy array (known by its bytes)" in done.stdout


def test_json_records_are_data_for_check_and_pr_check(pr_repo: Path) -> None:
    """Issue 21's case: the Iris table as JSON records in datasets/iris/rows.json fails both gates."""
    import json

    from sklearn.datasets import load_iris

    _branch(pr_repo, "dataset/iris")
    rows = load_iris(as_frame=True).frame.to_dict(orient="records")
    (pr_repo / "datasets/iris/rows.json").write_text(json.dumps(rows, indent=2))
    commit(pr_repo, "the Iris rows, as JSON")

    checked = mlrepo("check", "--root", str(pr_repo), cwd=pr_repo)  # what `make check` runs
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "RAW-DATA datasets/iris/rows.json:1 a JSON array of records (known by its bytes)" in checked.stdout

    done = pr_check(pr_repo, "--no-pre-commit")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "RAW-DATA datasets/iris/rows.json:1 a JSON array of records (known by its bytes)" in done.stdout

    (pr_repo / "datasets/iris/rows.json").unlink()  # deleted again: the PR's history still holds it
    commit(pr_repo, "drop the rows")
    again = pr_check(pr_repo, "--no-pre-commit")
    assert "PR-ADDED-DATA datasets/iris/rows.json:1 commit" in again.stdout, again.stdout
    assert "adds a JSON array of records (known by its bytes)" in again.stdout
