"""The model-run gate and the runner agree: one identity function (`mlrepo.run.identify.of_run`).

Each example pipeline of each task kind (train, estudy, dataset, `<model>-<dataset>`) goes through
a change → run → `pr-check` cycle on a throwaway copy of the repository: before its run the gate
fails naming the uid it computed and the closest FINISHED runs with the config keys that differ;
after it, the gate passes and notes the run it accepted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import train
from gates_support import commit, failed_rules, git, make_pr_repo, pr_check

pytestmark = pytest.mark.slow


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A copy of the repository on main, with the gates' files."""
    return make_pr_repo(tmp_path / "repo")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _train(repo: Path, *args: str) -> str:
    done = train(*args, cwd=repo, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _run_id(stdout: str) -> str:
    return re.search(r"Run ([0-9a-f]{32}) FINISHED", stdout).group(1)


def _cycle(repo: Path, pipeline: str, *train_args: str) -> tuple[str, str]:
    """pr-check fails before the run (with the uid), passes after it; `(failure, success)` outputs."""
    before = pr_check(repo, "--no-pre-commit")
    assert before.returncode == 1, before.stdout + before.stderr
    assert failed_rules(before.stdout) == {"PR-MODEL-RUN"}, before.stdout
    assert f"PR-MODEL-RUN conf/pipeline/{pipeline}.yaml:1 pipeline {pipeline}" in before.stdout
    uid = re.search(rf"pipeline {re.escape(pipeline)}: .*?run\.uid=([0-9a-f]{{32}})", before.stdout).group(1)

    ran = _train(repo, f"pipeline={pipeline}", *train_args)
    run_id = _run_id(ran)
    after = pr_check(repo, "--no-pre-commit")
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"note: PR-MODEL-RUN: pipeline {pipeline}: accepted run {run_id} (run.uid {uid}" in after.stdout
    return before.stdout, after.stdout


def test_train_and_study_pipelines_pass_once_run(pr_repo: Path, tracking_uri: str) -> None:
    """train_iris: a tampered C names the closest run and `model.C`; estudy_iris: its uid holds its target."""
    base_run = _run_id(_train(pr_repo, "pipeline=train_iris"))

    git(pr_repo, "checkout", "-q", "-b", "model/IrisClassifier")
    _edit(pr_repo / "conf/pipeline/train_iris.yaml", "  C: 1.0", "  C: 0.5")
    commit(pr_repo, "IrisClassifier: C=0.5")
    failed, passed = _cycle(pr_repo, "train_iris")
    assert "the closest FINISHED runs of train_iris:" in failed
    closest = rf"\| run {base_run} run\.uid=[0-9a-f]{{32}}: model\.C 1\.0 -> 0\.5$"
    assert re.search(closest, failed, re.MULTILINE), failed
    assert re.search(r"accepted run [0-9a-f]{32} \(run\.uid [0-9a-f]{32}, accuracy=\d\.\d{4}\)", passed)

    # The case of the issue: a study's run.uid includes the run it studies (study.run_id).
    git(pr_repo, "checkout", "-q", "main")
    git(pr_repo, "checkout", "-q", "-b", "study/repeats")
    _edit(pr_repo / "conf/pipeline/estudy_iris.yaml", "repeats: 10", "repeats: 11")
    commit(pr_repo, "estudy_iris: 11 repeats")
    failed, _ = _cycle(pr_repo, "estudy_iris")
    assert "(no FINISHED run of estudy_iris in this store)" in failed
    studied = r"it studies run [0-9a-f]{32} \(study\.of best:train_iris\), part of its run\.uid"
    assert re.search(studied, failed), failed


def test_a_study_whose_target_has_no_run_says_so(pr_repo: Path, tracking_uri: str) -> None:
    """No train_iris run in the store: the gate fails the study, naming the run to make first (no crash)."""
    git(pr_repo, "checkout", "-q", "-b", "study/repeats")
    _edit(pr_repo / "conf/pipeline/estudy_iris.yaml", "repeats: 10", "repeats: 11")
    commit(pr_repo, "estudy_iris: 11 repeats")
    done = pr_check(pr_repo, "--no-pre-commit")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "pipeline estudy_iris: the PR changes its run.uid" in done.stdout
    assert "first the run it studies: study.of is best:train_iris" in done.stdout


def test_dataset_and_model_dataset_pipelines_pass_once_run(pr_repo: Path, tracking_uri: str) -> None:
    """dataset_digits (a code change), cnnv1-digitsv1 (a config change; 5 epochs, the development cap)."""
    git(pr_repo, "checkout", "-q", "-b", "dataset/digits")
    _edit(
        pr_repo / "train/dataset_digits/pipeline.py",
        "    return build_table(",
        "    # The version names the rows: build_table knows every version.\n    return build_table(",
    )
    commit(pr_repo, "dataset_digits: say where the rows come from")
    _cycle(pr_repo, "dataset_digits")

    git(pr_repo, "checkout", "-q", "main")
    git(pr_repo, "checkout", "-q", "-b", "model/DigitsCNN")
    _edit(pr_repo / "conf/pipeline/cnnv1-digitsv1.yaml", "dense_units: 64", "dense_units: 16")
    commit(pr_repo, "DigitsCNN: 16 dense units")
    failed, passed = _cycle(pr_repo, "cnnv1-digitsv1")
    assert "test_accuracy=" in passed
