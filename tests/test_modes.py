"""Modes cached / force / retry through `python -m train`, against a throwaway SQLite store."""

import subprocess

import pytest
from conftest import PYTHON, ROOT, runs, train

pytestmark = pytest.mark.slow


def test_cached_reports_the_finished_run_and_trains_nothing_force_trains_again(tracking_uri):
    first = train("pipeline=train_iris", "model.C=0.5")
    assert first.returncode == 0, first.stderr
    (run,) = runs(tracking_uri, "train_iris")
    assert len(run.data.tags["run.uid"]) == 32
    assert run.data.tags["run.changed"] == "model.C=0.5"

    # Same config, a default written out and a non-identity key changed: a cached hit.
    again = train("pipeline=train_iris", "model.C=0.5", "model.max_iter=200", "logging.level=WARNING")
    assert again.returncode == 0, again.stderr
    assert f"Cached: run {run.info.run_id} FINISHED" in again.stdout
    assert "accuracy=" in again.stdout
    assert len(runs(tracking_uri, "train_iris")) == 1

    forced = train("pipeline=train_iris", "model.C=0.5", "mode=force")
    assert forced.returncode == 0, forced.stderr
    both = runs(tracking_uri, "train_iris")
    assert len(both) == 2
    assert {r.data.tags["run.uid"] for r in both} == {run.data.tags["run.uid"]}

    retried = train("pipeline=train_iris", "model.C=0.5", "mode=retry")  # last one FINISHED
    assert "Cached: run" in retried.stdout and len(runs(tracking_uri, "train_iris")) == 2


def test_a_cached_hit_imports_no_model_library_and_no_mlflow(tracking_uri):
    assert train("pipeline=train_iris").returncode == 0
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "train", "pipeline=train_iris"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Cached: run" in done.stdout
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {m.split(".")[0] for m in modules} & {"mlflow", "sklearn", "tensorflow", "keras", "pandas"}
    assert not any(m.startswith(("train.iris", "models.", "datasets.")) for m in modules)


def test_retry_trains_again_only_after_a_failure(tracking_uri):
    failing = ("pipeline=train_iris", "data.test_size=5.0")  # sklearn rejects it inside train()
    assert train(*failing).returncode == 1
    assert train(*failing).returncode == 1  # cached: no FINISHED run, so it trains (and fails) again
    assert train(*failing, "mode=retry").returncode == 1  # the last one FAILED: retry trains
    statuses = [r.info.status for r in runs(tracking_uri, "train_iris")]
    assert statuses == ["FAILED"] * 3


def test_an_unknown_mode_is_a_user_error(tracking_uri):
    done = train("pipeline=train_iris", "mode=sometimes")
    assert done.returncode == 2
    assert "Unknown mode 'sometimes'" in done.stderr
    assert "Traceback" not in done.stderr
    assert runs(tracking_uri, "train_iris") == []
