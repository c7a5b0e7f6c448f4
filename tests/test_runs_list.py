"""`python -m train runs`: the listing, its filters, `--watch`, and its quick SQLite reader."""

import os
import signal
import subprocess
import time

import pytest
from conftest import PYTHON, ROOT, default_sigint, train

from mlrepo.track.runs import SqliteReader, age, reader, table
from mlrepo.track.tracking import sqlite_path

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tracking_uri):
    """A store with three runs written by MLflow itself: two iris runs and a failed digits one."""
    import mlflow

    from mlrepo.track import tracking

    uri = tracking.connect(tracking_uri)
    for pipeline, status, changed, acc in [
        ("train_iris", "FINISHED", "model.C=0.5", 0.93),
        ("train_iris", "FINISHED", "", 0.91),
        ("train_digits", "FAILED", "model.lr=0.1", None),
    ]:
        exp = tracking.experiment_id(pipeline, uri)
        tags = {
            "pipeline": pipeline,
            "run.uid": f"{pipeline}-{changed}".ljust(32, "0"),
            "run.changed": changed,
        }
        with mlflow.start_run(experiment_id=exp, tags=tags) as run:
            mlflow.log_param("pipeline.metric", "accuracy")
            if acc is not None:
                mlflow.log_metric("accuracy", acc)
        mlflow.MlflowClient(uri).set_terminated(run.info.run_id, status)
        time.sleep(0.01)  # distinct start times: newest first is well defined
    return tracking_uri


def test_the_listing_shows_status_pipeline_uid_changes_metric_age(store):
    done = train("runs")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "PIPELINE", "UID", "RUN", "CHANGED", "METRIC", "AGE"]
    assert lines[1].split()[:2] == ["FAILED", "train_digits"]  # newest first
    assert "model.lr=0.1" in lines[1] and lines[1].split()[-2] == "-"
    assert "(defaults)" in lines[2] and "accuracy=0.9100" in lines[2]
    assert "model.C=0.5" in lines[3] and "accuracy=0.9300" in lines[3]
    assert lines[3].split()[2] == "train_ir"  # the short uid


def test_filters_by_pipeline_and_status(store):
    only_iris = train("runs", "--pipeline", "train_iris").stdout
    assert "train_digits" not in only_iris and only_iris.count("train_iris") == 2
    failed = train("runs", "--status", "failed").stdout
    assert failed.count("FAILED") == 1 and "FINISHED" not in failed
    assert "No runs match." in train("runs", "--pipeline", "nope").stdout
    bad = train("runs", "--status", "sleeping")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_watch_refreshes_until_interrupted(store):
    proc = subprocess.Popen(
        [PYTHON, "-m", "train", "runs", "--watch", "--interval", "0.3"],
        cwd=ROOT,
        preexec_fn=default_sigint,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.count("STATUS  ") >= 2  # refreshed at least once
    assert "Traceback" not in err


def test_the_sqlite_reader_filters_by_uid_without_mlflow(store):
    source = reader(store)
    assert isinstance(source, SqliteReader)
    (found,) = source.search(["train_iris"], uid="train_iris-model.C=0.5".ljust(32, "0"))
    assert found.status == "FINISHED" and found.metrics == {"accuracy": 0.93}
    assert source.search(["train_iris"], status="FAILED") == []
    assert SqliteReader(sqlite_path(store).with_name("missing.db")).search() == []


def test_age_and_an_empty_table():
    now = 1_000_000.0
    assert [age(int((now - s) * 1000), now) for s in (5, 120, 7200, 3 * 86400)] == ["5s", "2m", "2h", "3d"]
    assert table([]).split() == ["STATUS", "PIPELINE", "UID", "RUN", "CHANGED", "METRIC", "AGE"]
