"""Shared fixtures: a throwaway MLflow store, a copy of the repository, and `python -m train`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: What a copy of the repository needs to run pipelines (no .git, .venv, store or outputs).
SOURCE_DIRS = ("mlrepo", "train", "datasets", "models", "conf", "deploy")

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


def default_sigint() -> None:
    """`preexec_fn` for a child a test will Ctrl-C: a shell that runs the tests in the
    background makes children ignore SIGINT, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def _forget_mlflow_state():
    """Leave MLflow's process-wide state as each test found it: the tracking URI, the active
    experiment, any active run, and the MLFLOW_* variables MLflow sets with them
    (`set_tracking_uri` and `set_experiment` export MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID
    for subprocesses). Left over, one test's experiment id sends a later test's `start_run()`
    into an experiment its fresh store does not have ("No Experiment with id=1 exists")."""
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    fluent = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        for _ in range(10):  # end what a test left active (its store may be gone: then forget it)
            if fluent.active_run() is None:
                break
            try:
                fluent.end_run()
            except Exception:
                fluent._active_run_stack.set([])
        fluent._active_experiment_id = None
        sys.modules["mlflow.tracking._tracking_service.utils"]._tracking_uri = None
    for key in [k for k in os.environ if k.startswith("MLFLOW_") and k not in before]:
        del os.environ[key]
    os.environ.update(before)


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite MLflow store under tmp_path, exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def copy_repo(dest: Path, git: bool = True) -> Path:
    """Copy the repository's source into `dest` (optionally as a fresh, clean git repo)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE_DIRS:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "Pipfile", "Pipfile.lock", ".gitignore"):
        shutil.copy2(ROOT / name, dest / name)
    if git:
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
            subprocess.run(["git", *args], cwd=dest, check=True, env=env)
    return dest


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A clean git repository holding a copy of this repository's source."""
    return copy_repo(tmp_path / "repo")


def train(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python -m train ARGS` as a user would, and capture its output."""
    return subprocess.run(
        [PYTHON, "-m", "train", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def runs(uri: str, experiment: str) -> Sequence:
    """All runs of an experiment in the store at `uri`, newest first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id], order_by=["start_time DESC"])
