"""Helpers for the gates' tests: a minimal compliant repository tree built in tmp_path."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from conftest import PYTHON, ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}
"""A fixed git identity, so that commits work on a bare CI machine."""

FILES = {
    "datasets/iris/__init__.py": '"""The Iris dataset."""\n',
    "datasets/iris/common.py": '"""Names shared by the Iris dataset."""\n',
    "datasets/iris/dataset.py": '"""Create the Iris table."""\n\n\ndef load() -> list:\n'
    '    """Return the rows."""\n    return []\n',
    "train/iris/__init__.py": '"""The Iris pipeline."""\n',
    "train/iris/pipeline.py": '"""Train an IrisClassifier."""\n\nfrom omegaconf import DictConfig\n\n\n'
    'def train(config: DictConfig) -> dict:\n    """Train as `config` says."""\n    return dict(config)\n',
    "conf/pipeline/train_iris.yaml": "# @package _global_\n# python -m train pipeline=train_iris\npipeline:\n"
    "  name: train_iris\n  code: iris\n  model: IrisClassifier\n",
    "deploy/IrisClassifier/V1/create_bento_model.py": '"""Import a run into BentoML."""\n',
    "deploy/IrisClassifier/V1/common.py": '"""Names shared by the deploy."""\n',
    "deploy/IrisClassifier/V1/service.py": '"""The BentoML service."""\n',
    "deploy/IrisClassifier/V1/sample-input.csv": "sepal_length,sepal_width\n5.1,3.5\n",
    "deploy/IrisClassifier/V1/ecr.sh": "#!/usr/bin/env bash\nset -euo pipefail\n",
    "deploy/IrisClassifier/V1/deploy.yaml": "replicas: 1\n",
    "dvc.yaml": "stages:\n  iris:\n    cmd: python -m datasets.iris\n    outs:\n"
    "      - data/irisv1_dataset_v1.parquet\n",
}
"""The small files of the fixture tree (the model, Pipfile, lock, CODEOWNERS come from the repository)."""

COPIED = (
    "models/IrisClassifier/__init__.py",
    "models/IrisClassifier/model.py",
    "models/IrisClassifier/common.py",
    "conf/governance.yaml",
    "Pipfile",
    "Pipfile.lock",
    ".github/CODEOWNERS",
)


def make_repo(dest: Path, git: bool = False) -> Path:
    """Build a minimal tree that follows every rule (optionally as a git repository with one commit)."""
    for rel in COPIED:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    for rel, text in FILES.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    ecr = dest / "deploy/IrisClassifier/V1/ecr.sh"
    ecr.chmod(ecr.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if git:
        git_init(dest)
        commit(dest, "fixture")
    return dest


def git_init(root: Path) -> None:
    """Make `root` a git repository on branch main."""
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)


def commit(root: Path, message: str) -> None:
    """Commit everything in `root` (a throwaway repository)."""
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=root, check=True, env=env)


def rule_ids(root: Path) -> set[str]:
    """The ids of the rules the tree at `root` breaks."""
    from mlrepo.govern import checks

    return {v.rule for v in checks.run(root)}


def mlrepo(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m mlrepo ARGS` as a user would, and capture its output."""
    return subprocess.run(
        [PYTHON, "-m", "mlrepo", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


PR_FILES = (
    ".pre-commit-config.yaml",
    ".secrets.baseline",
    ".github/CODEOWNERS",
    ".github/pull_request_template.md",
)
"""The gates' files a pull-request repository needs beyond the source (`conftest.copy_repo`)."""


def git(root: Path, *args: str) -> str:
    """Run git in `root` with the fixed identity; its stdout."""
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})  # fmt: skip
    return done.stdout.strip()


def make_pr_repo(dest: Path) -> Path:
    """A copy of the repository as a git repo on main, with the gates' files and the locked .venv."""
    from conftest import copy_repo

    repo = copy_repo(dest, git=False)
    for rel in PR_FILES:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    (repo / ".venv").symlink_to(ROOT / ".venv")  # the hooks run .venv/bin/ruff etc.
    git_init(repo)
    (repo / ".git/info/exclude").write_text(".venv\n")
    commit(repo, "base")
    return repo


def pr_check(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m mlrepo pr-check --base main ARGS` run from `repo`'s checkout (its own mlrepo)."""
    return mlrepo("pr-check", "--base", "main", "--root", str(repo), *args, cwd=repo, env=env)


def failed_rules(output: str) -> set[str]:
    """The rule ids a checker/pr-check report lists as failures (not notes, warnings or fix lines)."""
    return {
        line.split()[0]
        for line in output.splitlines()
        if line
        and not line.startswith((" ", "note:", "warning:", "pr-check:", "check:"))
        and "violation(s)" not in line
    }
