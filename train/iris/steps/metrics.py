"""Score a fitted classifier on held-out data."""

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score


def evaluate(y_true: pd.Series, y_pred: pd.Series) -> dict[str, float]:
    """Return `accuracy` and `f1_macro` of the predictions."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro")),
    }
