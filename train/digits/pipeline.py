"""Train a DigitsCNN: ingest (versioned table) → transform → split (stored) → fit → evaluate."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from datasets.digits.common import CLASS_NAMES
from mlrepo.track import tables, tracking
from models.DigitsCNN.model import DigitsCNN
from train.digits.steps.ingest import ingest
from train.digits.steps.metrics import epoch_metrics, evaluate, learning_curves, predicted_digits
from train.digits.steps.split import split
from train.digits.steps.train import device, fit
from train.digits.steps.transform import transform

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)


def train(config: DictConfig) -> keras.Model:
    """Train and evaluate a DigitsCNN as `config` says; return the trained Keras model."""
    import keras  # here, not at import: the docs and the run identity read this module cheaply

    keras.utils.set_random_seed(config.train.seed)
    frame, path = ingest(config.data.table, config.paths.data)
    tables.log_input(config.data.table, frame, path, config.paths.root)
    parts = split(*transform(frame), max_train_rows=config.data.max_rows)

    log.info("instantiating models.DigitsCNN.model.DigitsCNN(%s)", dict(config.model))
    model = DigitsCNN(**config.model).build()
    started = time.perf_counter()
    history = fit(
        model,
        parts["train"],
        parts["validation"],
        max_epochs=config.train.max_epochs,
        batch_size=config.train.batch_size,
        patience=config.train.patience,
        on_epoch=lambda epoch, logs: tracking.log_metrics(epoch_metrics(logs), step=epoch),
    )
    seconds = time.perf_counter() - started
    epochs = len(history.epoch)

    x_test, y_test = parts["test"]
    predicted = predicted_digits(model.predict(x_test.to_numpy(), verbose=0))
    tracking.log_metrics(
        {
            **evaluate(y_test, predicted),
            "epochs_trained": epochs,
            "train_samples_per_s": epochs * len(parts["train"][0]) / seconds,
        }
    )
    tracking.log_params({"train.device_used": device()})
    tracking.log_figure(learning_curves(history.history), "plots/learning_curves.png")
    tracking.log_confusion_matrix(y_test, predicted, labels=range(len(CLASS_NAMES)))
    # mlflow.tensorflow wants a tensor signature: the example is an array of 64 raw pixels per row.
    tracking.set_input_example(x_test.head(5).to_numpy())
    return model
