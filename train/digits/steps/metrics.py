"""Score the trained model and draw its learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def epoch_metrics(logs: Mapping[str, float]) -> dict[str, float]:
    """Name Keras's per-epoch values for MLflow: `loss` → `train_loss`, `val_loss` stays."""
    return {(k if k.startswith("val_") else f"train_{k}"): float(v) for k, v in logs.items()}


def evaluate(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Return `test_accuracy` and `test_f1_macro` of the predicted digits."""
    return {
        "test_accuracy": float(accuracy_score(y_true, y_pred)),
        "test_f1_macro": float(f1_score(y_true, y_pred, average="macro")),
    }


def predicted_digits(probabilities: np.ndarray) -> np.ndarray:
    """The most probable digit of each row of class probabilities."""
    return np.asarray(probabilities).argmax(axis=1)


def learning_curves(history: Mapping[str, Sequence[float]]):
    """Plot loss and accuracy per epoch, training against validation; return the figure.

    Args:
        history: Keras's `History.history` (`loss`, `val_loss`, `accuracy`, `val_accuracy`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = history.get(key, [])
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    figure.suptitle("Learning curves")
    figure.tight_layout()
    return figure
