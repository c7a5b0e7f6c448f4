"""Fit a DigitsCNN epoch by epoch, with early stopping and one metrics batch per epoch."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping

import pandas as pd

log = logging.getLogger(__name__)


def device() -> str:
    """The device training runs on: the first GPU TensorFlow sees, else the CPU."""
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def fit(
    model,
    train: tuple[pd.DataFrame, pd.Series],
    validation: tuple[pd.DataFrame, pd.Series],
    max_epochs: int,
    batch_size: int,
    patience: int,
    on_epoch: Callable[[int, Mapping[str, float]], None],
):
    """Train `model` (a compiled Keras model) and return its `History`.

    Training stops early when the validation loss has not improved for `patience` epochs, and
    the best weights are restored. Keras's progress bar shows in a terminal; elsewhere (logs,
    SLURM, CI) Keras prints one line per epoch.

    Args:
        model: the compiled model.
        train: training inputs and labels.
        validation: validation inputs and labels (early stopping watches them).
        max_epochs: the most epochs to train.
        batch_size: rows per gradient step.
        patience: epochs without improvement before stopping.
        on_epoch: called after each epoch with its number (from 1) and its metrics.

    Returns:
        Keras's `History` (`history.history` maps each metric to its values per epoch).
    """
    import keras
    import tensorflow as tf

    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, logs or {})),
    ]
    where = device()
    log.info("training on %s for at most %d epochs", where, max_epochs)
    with tf.device(where):
        return model.fit(
            train[0].to_numpy(),
            train[1].to_numpy(),
            validation_data=(validation[0].to_numpy(), validation[1].to_numpy()),
            epochs=max_epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
