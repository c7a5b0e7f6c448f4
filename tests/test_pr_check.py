"""`python -m mlrepo pr-check --base main` on a throwaway git repository: a compliant and a failing PR."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import train
from gates_support import commit, failed_rules, git, make_pr_repo, mlrepo

MODEL = "models/IrisClassifier"
NEW_METHOD = (
    "\n    def describe(self) -> str:\n"
    '        """A one-line summary of the hyper-parameters."""\n'
    '        return f"C={self.C} max_iter={self.max_iter}"\n'
)


def _git(root: Path, *args: str) -> str:
    return git(root, *args)


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A copy of the repository as a git repo on main, with the gates' files and the locked .venv."""
    return make_pr_repo(tmp_path / "repo")


def _change_model(repo: Path) -> None:
    model = repo / MODEL / "model.py"
    model.write_text(model.read_text().rstrip("\n") + "\n" + NEW_METHOD)


def _pr_check(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return mlrepo("pr-check", "--base", "main", *args, cwd=repo, env=env)


@pytest.mark.slow
def test_non_compliant_pr_fails_every_broken_gate(pr_repo: Path, tracking_uri: str) -> None:
    """A stale diagram, no Changes, no run, a Pipfile edit by a non-director: each is reported."""
    _git(pr_repo, "checkout", "-q", "-b", "feature/bad")
    _change_model(pr_repo)
    pipfile = pr_repo / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("[dev-packages]\n", '[dev-packages]\nblack = "*"\n'))
    commit(pr_repo, "change the model and the Pipfile")

    done = _pr_check(pr_repo, "--author", "someone")
    assert done.returncode == 1, done.stdout + done.stderr
    for expected in (
        f"DIAGRAM-STALE {MODEL}/__init__.py",
        f"MODEL-CHANGES {MODEL}/__init__.py",
        "PR-MODEL-RUN conf/pipeline/train_iris.yaml:1 pipeline train_iris: the PR changes its run.uid",
        "PR-DIRECTOR Pipfile:1 changed by someone",
        "PIPFILE-LOCK Pipfile.lock:1 `black` is in Pipfile but not in Pipfile.lock",
        "PIPFILE-LOCK Pipfile.lock:1 Pipfile.lock is out of date",
    ):
        assert expected in done.stdout, done.stdout

    director = _pr_check(pr_repo, "--no-pre-commit", env={"PR_AUTHOR": "@dev-director"})
    assert "PR-DIRECTOR" not in director.stdout and "PIPFILE-LOCK" in director.stdout


@pytest.mark.slow
def test_compliant_pr_passes_once_its_run_is_logged(pr_repo: Path, tracking_uri: str) -> None:
    """Diagram regenerated, Changes written, a run of train_iris at the head commit: every gate passes."""
    _git(pr_repo, "checkout", "-q", "-b", "feature/good")
    _change_model(pr_repo)
    assert mlrepo("diagrams", "--root", str(pr_repo), cwd=pr_repo).returncode == 0
    init = pr_repo / MODEL / "__init__.py"
    init.write_text(
        init.read_text().replace(
            "## Diagram", "## Changes\n\n- `describe()` summarizes the model.\n\n## Diagram"
        )
    )
    commit(pr_repo, "IrisClassifier.describe")

    before = _pr_check(pr_repo)
    assert before.returncode == 1 and "PR-MODEL-RUN" in before.stdout, before.stdout + before.stderr
    assert failed_rules(before.stdout) == {"PR-MODEL-RUN"}, before.stdout

    ran = train("pipeline=train_iris", cwd=pr_repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    after = _pr_check(pr_repo)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "passes every gate" in after.stdout

    wrong_store = _pr_check(
        pr_repo, "--no-pre-commit", "--tracking-uri", f"sqlite:///{pr_repo.parent / 'other.db'}"
    )
    assert wrong_store.returncode == 1 and "PR-MODEL-RUN" in wrong_store.stdout


def test_unknown_base_is_a_user_mistake(tmp_path: Path) -> None:
    """A base ref that does not exist: one paragraph, exit 2."""
    done = mlrepo("pr-check", "--base", "no-such-ref", "--no-pre-commit")
    assert done.returncode == 2 and "git fetch" in done.stderr and "Traceback" not in done.stderr
