"""`python -m train` end to end, as a user runs it, against a throwaway SQLite store."""

import os
import signal
import subprocess
import time

import pytest
from conftest import PYTHON, ROOT, default_sigint, runs, train

pytestmark = pytest.mark.slow


def test_a_run_is_tracked_completely_and_its_model_predicts(tracking_uri, tmp_path):
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    done = train("pipeline=train_iris", "model.C=0.5")
    assert done.returncode == 0, done.stderr
    (run,) = runs(tracking_uri, "train_iris")
    assert f"Run {run.info.run_id} FINISHED" in done.stdout
    assert "accuracy=" in done.stdout and "make mlflow-ui" in done.stdout

    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["pipeline"] == "train_iris"
    assert tags["branch"] == "development"
    assert len(tags["git.commit"]) in (40, 7) or tags["git.commit"] == "unknown"
    assert tags["git.dirty"] in ("true", "false")
    assert "git.branch" in tags
    assert tags["dataset.version"] == "v1"

    params = run.data.params
    assert params["model.C"] == "0.5"
    assert params["pipeline.code"] == "iris"
    assert params["data.max_rows"] == "100000"
    assert "paths.root" not in params  # machine-specific, kept out of params

    assert run.data.metrics["accuracy"] > 0.85
    assert 0 < run.data.metrics["f1_macro"] <= 1

    client = MlflowClient(tracking_uri)
    listed = {a.path for a in client.list_artifacts(run.info.run_id, "config")}
    assert listed == {"config/config.yaml", "config/overrides.yaml"}
    overrides = client.download_artifacts(run.info.run_id, "config/overrides.yaml", str(tmp_path))
    assert "model.C=0.5" in open(overrides).read()
    assert "plots/confusion_matrix.png" in {a.path for a in client.list_artifacts(run.info.run_id, "plots")}

    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.metadata.signature is not None
    rows = pd.DataFrame(
        [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
        columns=["sepal_length", "sepal_width", "petal_length", "petal_width"],
    )
    assert list(model.predict(rows)) == ["setosa", "virginica"]


def test_unknown_pipeline_exits_2_with_the_list_and_no_traceback(tracking_uri):
    done = train("pipeline=nope")
    assert done.returncode == 2
    assert "Unknown pipeline 'nope'" in done.stderr
    assert "train_iris" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_bad_override_exits_2_without_traceback(tracking_uri):
    done = train("pipeline=train_iris", "model.not_a_key=3")
    assert done.returncode == 2
    assert "model.not_a_key" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_is_quick_and_lists_pipelines():
    done = subprocess.run([PYTHON, "-m", "train", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0
    assert "train_iris" in done.stdout and "production" in done.stdout


def test_an_exception_in_train_ends_the_run_failed_with_its_traceback(tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    done = train("pipeline=train_iris", "data.test_size=5.0")  # sklearn rejects it inside train()
    assert done.returncode == 1
    (run,) = runs(tracking_uri, "train_iris")
    assert run.info.status == "FAILED"
    assert f"Run {run.info.run_id} FAILED" in done.stderr
    assert "Traceback" not in done.stderr and "at train/iris/steps/split.py:" in done.stderr  # one paragraph
    saved = MlflowClient(tracking_uri).download_artifacts(
        run.info.run_id, "error/traceback.txt", str(tmp_path)
    )
    text = open(saved).read()
    assert "Traceback" in text and "test_size" in text
    assert "model" not in {a.path for a in MlflowClient(tracking_uri).list_artifacts(run.info.run_id)}


SLEEPY_PIPELINE = '''\
"""A pipeline that waits, so that a test can interrupt it."""

import time

from omegaconf import DictConfig


def train(config: DictConfig):
    """Sleep until interrupted."""
    print("training started", flush=True)
    time.sleep(120)
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_ends_killed(repo_copy, tracking_uri, sig):
    (repo_copy / "train" / "sleepy").mkdir()
    (repo_copy / "train" / "sleepy" / "pipeline.py").write_text(SLEEPY_PIPELINE)
    (repo_copy / "conf" / "pipeline" / "train_sleepy.yaml").write_text(
        "# @package _global_\n# python -m train pipeline=train_sleepy\n"
        "pipeline: {name: train_sleepy, code: sleepy, model: none, metric: accuracy}\n"
    )
    proc = subprocess.Popen(
        [PYTHON, "-m", "train", "pipeline=train_sleepy"],
        cwd=repo_copy,
        env=os.environ.copy(),
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "training started" in line or not line:
            break
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (run,) = runs(tracking_uri, "train_sleepy")
    assert run.info.status == "KILLED"
    assert "KILLED" in err


def test_production_refuses_a_dirty_tree(repo_copy, tracking_uri):
    (repo_copy / "models" / "IrisClassifier" / "common.py").write_text('"""Edited."""\nDEFAULT_C = 2.0\n')
    done = train("pipeline=train_iris", "branch=production", cwd=repo_copy)
    assert done.returncode == 2
    assert "refuses a dirty git tree" in done.stderr
    assert "models/IrisClassifier/common.py" in done.stderr
    assert "Traceback" not in done.stderr
    assert runs(tracking_uri, "train_iris") == []  # nothing was started


def test_a_user_mistake_inside_train_exits_2_without_traceback_and_the_run_is_failed(tracking_uri):
    done = train("pipeline=cnnv1-digitsv1", "data.table=Not-A-Table")
    assert done.returncode == 2, done.stderr
    assert "Not-A-Table" in done.stderr and "_dataset_" in done.stderr
    assert "Traceback" not in done.stderr
    (run,) = runs(tracking_uri, "cnnv1-digitsv1")
    assert run.info.status == "FAILED"
