"""`python -m train pipeline=cnnv1-digitsv1` end to end, in a DVC-enabled copy, into a throwaway store."""

import numpy as np
import pytest
from conftest import runs, train
from digits_support import TABLE, TABLE_PATH, dvc_repo_copy, locked_md5, mlflow_store

pytestmark = pytest.mark.slow

PIPELINE = "cnnv1-digitsv1"


@pytest.fixture
def digits_repo(tmp_path):
    """A copy of the repository with its DVC files, so the run reads data/ there, not here."""
    return dvc_repo_copy(tmp_path / "repo", tmp_path / "remote")


def test_a_capped_run_is_accurate_and_leads_back_to_its_data(digits_repo, tracking_uri, tmp_path):
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    done = train(f"pipeline={PIPELINE}", cwd=digits_repo, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs(tracking_uri, PIPELINE)
    assert f"Run {run.info.run_id} FINISHED" in done.stdout
    assert "Epoch 1/5" in done.stdout  # Keras's progress, capped by the development super-branch

    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    assert metrics["test_accuracy"] >= 0.9
    assert params["train.max_epochs"] == "5" and 1 <= metrics["epochs_trained"] <= 5
    assert params["train.device_used"] in ("/CPU:0", "/GPU:0")
    assert tags["dataset.version"] == "v1" and tags["pipeline"] == PIPELINE

    client = MlflowClient(tracking_uri)
    # One batch per epoch: every per-epoch metric has one value per epoch, steps 1..n.
    epochs = int(metrics["epochs_trained"])
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == list(range(1, epochs + 1)), key

    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/learning_curves.png", "plots/confusion_matrix.png"} <= plots

    (used,) = run.inputs.dataset_inputs
    assert used.dataset.name == TABLE
    assert used.dataset.digest == locked_md5() == locked_md5(digits_repo)
    assert TABLE_PATH in used.dataset.source
    assert {t.key: t.value for t in used.tags}["dvc.status"] == "tracked"

    # The logged model, loaded back through pyfunc, predicts what was scored during the run.
    with mlflow_store(tracking_uri):
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.metadata.signature is not None
    assert model.metadata.flavors.keys() >= {"tensorflow", "python_function"}
    table = pd.read_parquet(digits_repo / TABLE_PATH)
    test = table[table["split"] == "test"]
    pixels = test.drop(columns=["digit", "split"]).to_numpy("float32")
    predicted = np.asarray(model.predict(pixels)).argmax(axis=1)
    assert (predicted == test["digit"].to_numpy()).mean() == pytest.approx(metrics["test_accuracy"])


def test_a_missing_table_is_materialized_and_logged(digits_repo, tracking_uri):
    # A fresh clone has no data/: the pipeline creates the table with its DVC stage's code.
    assert not (digits_repo / "data").exists()
    done = train(f"pipeline={PIPELINE}", "train.max_epochs=1", cwd=digits_repo, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "materializing it" in done.stdout + done.stderr
    (run,) = runs(tracking_uri, PIPELINE)
    assert run.inputs.dataset_inputs[0].dataset.digest == locked_md5()
    assert run.data.metrics["epochs_trained"] == 1


def test_a_broken_table_fails_the_run_with_a_clear_reason(digits_repo, tracking_uri):
    import pandas as pd

    (digits_repo / "data").mkdir()
    pd.DataFrame({"pixel_00": [1.0], "digit": [3]}).to_parquet(digits_repo / TABLE_PATH)
    done = train(f"pipeline={PIPELINE}", cwd=digits_repo, timeout=600)
    assert done.returncode == 1
    assert "digits table lacks the columns" in done.stderr
    (run,) = runs(tracking_uri, PIPELINE)
    assert run.info.status == "FAILED"
    assert {t.key: t.value for t in run.inputs.dataset_inputs[0].tags}["dvc.status"] == "modified"
