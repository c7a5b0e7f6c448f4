"""DigitsCNN, its config and steps in process; the Keras model via mlrepo.track.flavors back via pyfunc."""

import numpy as np
import pandas as pd
import pytest
from digits_support import mlflow_store

from datasets.digits.common import PIXELS, SPLIT, TARGET
from datasets.digits.dataset import build_table
from mlrepo.run.config import compose
from train.digits.steps.metrics import epoch_metrics, evaluate, learning_curves, predicted_digits
from train.digits.steps.split import split
from train.digits.steps.transform import transform

PIPELINE = "pipeline=cnnv1-digitsv1"


def test_development_caps_epochs_production_does_not_the_command_line_wins():
    assert compose([PIPELINE]).train.max_epochs == 5
    assert compose([PIPELINE, "branch=production"]).train.max_epochs == 60
    assert compose([PIPELINE, "train.max_epochs=2"]).train.max_epochs == 2
    cfg = compose([PIPELINE])
    assert cfg.data.table == "cnnv1_dataset_v1" and cfg.pipeline.code == "digits"


def test_transform_and_split_use_the_stored_split():
    frame = build_table("v1")
    parts = split(*transform(frame), max_train_rows=100)
    assert len(parts["train"][0]) == 100
    assert len(parts["validation"][0]) == 270 and len(parts["test"][0]) == 270
    assert list(parts["test"][0].columns) == PIXELS and parts["test"][0].dtypes.eq("float32").all()
    expected = frame.loc[frame[SPLIT] == "test", TARGET].to_numpy()
    assert (parts["test"][1].to_numpy() == expected).all()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.drop(columns=["pixel_05"]), "lacks the columns"),
        (lambda f: f.assign(pixel_00=np.nan), "missing values"),
        (lambda f: f.assign(pixel_00=17), "outside 0–16"),
        (lambda f: f.assign(split="holdout"), "unknown splits"),
    ],
)
def test_a_damaged_table_is_refused_with_the_reason(damage, message):
    with pytest.raises(ValueError, match=message):
        transform(damage(build_table("v1")))


def test_a_split_without_rows_is_refused():
    frame = build_table("v1")
    frame = frame[frame[SPLIT] != "validation"]
    with pytest.raises(ValueError, match="no 'validation' rows"):
        split(*transform(frame))


def test_metrics_names_and_scores():
    assert epoch_metrics({"loss": 1, "accuracy": 0.5, "val_loss": 2}) == {
        "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 2.0}  # fmt: skip
    assert evaluate([1, 2, 3], [1, 2, 0])["test_accuracy"] == pytest.approx(2 / 3)
    assert list(predicted_digits(np.eye(10)[[3, 7]])) == [3, 7]
    figure = learning_curves({"loss": [2, 1], "val_loss": [2.5, 1.5], "accuracy": [0.5, 0.8]})
    assert len(figure.axes) == 2


@pytest.mark.slow
def test_the_keras_model_is_logged_with_its_flavour_and_pyfunc_predicts_the_same(tracking_uri):
    import keras
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from mlrepo.track.flavors import flavor_of, log_model
    from models.DigitsCNN.model import DigitsCNN

    cfg = compose([PIPELINE])
    keras.utils.set_random_seed(0)
    model = DigitsCNN(**cfg.model).build()  # the pipeline config instantiates
    assert model.input_shape == (None, 64) and model.output_shape == (None, 10)
    assert flavor_of(model) == "tensorflow" and flavor_of(LogisticRegression()) == "sklearn"

    parts = split(*transform(build_table("v1")))
    x_train, y_train = parts["train"]
    model.fit(x_train.to_numpy(), y_train.to_numpy(), epochs=1, batch_size=64, verbose=0)
    x_test = parts["test"][0].to_numpy()
    with mlflow_store(tracking_uri):
        with mlflow.start_run():
            info = log_model(model, x_test[:5])
        loaded = mlflow.pyfunc.load_model(info.model_uri)
    inputs = loaded.metadata.signature.inputs.to_dict()
    assert inputs[0]["type"] == "tensor" and tuple(inputs[0]["tensor-spec"]["shape"]) == (-1, 64)
    expected = model.predict(x_test, verbose=0)
    np.testing.assert_allclose(np.asarray(loaded.predict(x_test)), expected, rtol=1e-5, atol=1e-6)
    # A DataFrame of the 64 pixel columns (what a table holds) gives the same answer.
    as_frame = pd.DataFrame(x_test, columns=PIXELS)
    np.testing.assert_allclose(np.asarray(loaded.predict(as_frame)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_fit_reports_each_epoch_once_and_the_same_seed_trains_the_same_model():
    import keras

    from models.DigitsCNN.model import DigitsCNN
    from train.digits.steps.train import fit

    parts = split(*transform(build_table("v1")), max_train_rows=400)
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = DigitsCNN().build()
        calls = []

        def record(epoch, logs, calls=calls):
            calls.append((epoch, dict(logs)))

        history = fit(model, parts["train"], parts["validation"], max_epochs=2, batch_size=64, patience=5,
                      on_epoch=record)  # fmt: skip
        results.append(model.predict(parts["test"][0].to_numpy(), verbose=0))
    # One call per epoch, numbered from 1, with every value of that epoch (one MLflow batch).
    assert [epoch for epoch, _ in calls] == [1, 2] == [e + 1 for e in history.epoch]
    assert all({"loss", "accuracy", "val_loss", "val_accuracy"} <= logs.keys() for _, logs in calls)
    np.testing.assert_array_equal(results[0], results[1])
