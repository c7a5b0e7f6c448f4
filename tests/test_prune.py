"""`python -m mlrepo prune --branch X`: deletes that branch's MLflow runs, and no others."""

from __future__ import annotations

from pathlib import Path

import pytest
from gates_support import mlrepo


def _log_run(uri: str, experiment: str, branch: str) -> str:
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    run = client.create_run(exp_id, tags={"git.branch": branch, "pipeline": experiment})
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.set_terminated(run.info.run_id)
    assert mlflow is not None
    return run.info.run_id


@pytest.mark.slow
def test_prune_deletes_only_that_branch(tracking_uri: str, tmp_path: Path) -> None:
    """Runs of feature/x in two experiments go; runs of main and feature/xy stay active."""
    from mlflow.tracking import MlflowClient

    doomed = [
        _log_run(tracking_uri, "train_iris", "feature/x"),
        _log_run(tracking_uri, "cnnv1-digitsv1", "feature/x"),
    ]
    kept = [_log_run(tracking_uri, "train_iris", "main"), _log_run(tracking_uri, "train_iris", "feature/xy")]

    dry = mlrepo("prune", "--branch", "feature/x", "--dry-run")
    assert dry.returncode == 0 and "would delete 2 run(s)" in dry.stdout

    done = mlrepo("prune", "--branch", "feature/x")
    assert done.returncode == 0, done.stderr
    assert "deleted 2 run(s) of branch feature/x" in done.stdout
    client = MlflowClient(tracking_uri)
    assert {client.get_run(r).info.lifecycle_stage for r in doomed} == {"deleted"}
    assert {client.get_run(r).info.lifecycle_stage for r in kept} == {"active"}

    again = mlrepo("prune", "--branch", "feature/x")
    assert again.returncode == 0 and "deleted 0 run(s)" in again.stdout


def test_prune_refuses_main_and_empty(tracking_uri: str) -> None:
    """Pruning main (or an empty name) is a user mistake: exit 2, one paragraph, nothing deleted."""
    for branch in ("main", " "):
        done = mlrepo("prune", "--branch", branch)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
