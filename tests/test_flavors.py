"""Every scikit-learn estimator logs and loads back (skops, trusting exactly the model's own types);
a model that cannot be saved fails in one paragraph, and the run ends FAILED with exit 2."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import PYTHON, ROOT, runs


def _frame(rows: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], rows),
            "size": rng.random(rows),
            "age": rng.random(rows),
        }
    )
    labels = ((frame["size"] > 0.5) ^ (frame["colour"] == "red")).astype(int).to_numpy()
    return frame, labels


def _numeric_models():
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )

    return {
        "RandomForest": RandomForestClassifier(n_estimators=5, random_state=0),
        "GradientBoosting": GradientBoostingClassifier(n_estimators=5, random_state=0),
        "HistGradientBoosting": HistGradientBoostingClassifier(max_iter=5, random_state=0),
    }


def _column_pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("forest", RandomForestClassifier(n_estimators=5, random_state=0))])


@pytest.mark.parametrize(
    "name", ["RandomForest", "GradientBoosting", "HistGradientBoosting", "ColumnTransformerPipeline"]
)
def test_tree_models_and_pipelines_log_and_load_back(name, tracking_uri):
    import mlflow

    from mlrepo.track.flavors import MODEL_NAME, log_model, trusted_types

    frame, labels = _frame()
    if name == "ColumnTransformerPipeline":
        model, inputs = _column_pipeline(), frame
    else:
        model, inputs = _numeric_models()[name], frame[["size", "age"]]
    model.fit(inputs, labels)
    trusted = trusted_types(model)
    assert trusted and all("Tree" in t for t in trusted)  # exactly the tree types, nothing else
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run() as run:
        info = log_model(model, inputs.head(5))
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/{MODEL_NAME}")
    np.testing.assert_array_equal(loaded.predict(inputs.head(20)), model.predict(inputs.head(20)))
    assert info.signature is not None
    mlflow.set_tracking_uri(None)


def test_a_plain_model_trusts_nothing_extra():
    from sklearn.linear_model import LogisticRegression

    from mlrepo.track.flavors import trusted_types

    frame, labels = _frame()

    assert trusted_types(LogisticRegression().fit(frame[["size", "age"]], labels)) == []


def test_a_model_that_cannot_be_saved_fails_in_one_paragraph(tracking_uri):
    import mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from mlrepo.errors import UserError
    from mlrepo.track.flavors import ModelNotSavedError, log_model

    frame, labels = _frame()
    inputs = frame[["size", "age"]]
    model = make_pipeline(FunctionTransformer(lambda x: x), LogisticRegression()).fit(inputs, labels)
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(), pytest.raises(ModelNotSavedError) as caught:
        log_model(model, inputs.head(5))
    mlflow.set_tracking_uri(None)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "\n" not in message and "cannot be saved" in message
    assert "module level" in message and "models/<Model>/model.py" in message


BROKEN_PIPELINE = '''\
"""A pipeline whose model skops cannot save (a lambda inside)."""

import numpy as np
from omegaconf import DictConfig
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer


def train(config: DictConfig):
    """Fit a pipeline with a lambda in it."""
    x = np.arange(40, dtype=float).reshape(20, 2)
    return make_pipeline(FunctionTransformer(lambda v: v), LogisticRegression()).fit(x, x[:, 0] > 19)
'''


@pytest.mark.slow
def test_the_runner_ends_an_unsaveable_model_failed_with_one_paragraph(repo_copy, tracking_uri):
    (repo_copy / "train" / "broken").mkdir()
    (repo_copy / "train" / "broken" / "pipeline.py").write_text(BROKEN_PIPELINE)
    (repo_copy / "conf" / "pipeline" / "train_broken.yaml").write_text(
        "# @package _global_\n# python -m train pipeline=train_broken\n"
        "pipeline: {name: train_broken, code: broken, model: none, metric: accuracy}\n"
    )
    done = subprocess.run(
        [PYTHON, "-m", "train", "pipeline=train_broken"],
        cwd=repo_copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot be saved" in errors[0]
    assert done.stderr.count("skops") == 2  # the reason and the advice, once: not three paragraphs
    (run,) = runs(tracking_uri, "train_broken")
    assert run.info.status == "FAILED"


@pytest.mark.parametrize(
    ("imported", "loaded"),
    [({"sklearn", "pandas"}, True), ({"sklearn", "keras"}, False), ({"pandas"}, False)],
)
def test_prepare_imports_skops_before_mlflow_only_for_a_scikit_learn_pipeline(imported, loaded):
    code = (
        "import sys; from mlrepo.track import flavors; "
        f"flavors.prepare({sorted(imported)!r}); print('skops.io' in sys.modules, 'mlflow' in sys.modules)"
    )
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(loaded), "False"]
