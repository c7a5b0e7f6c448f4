"""Score a fitted regressor on held-out data."""

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def evaluate(y_true: pd.Series, y_pred: pd.Series) -> dict[str, float]:
    """Return `rmse`, `mae` (lower is better) and `r2` (higher is better) of the predictions."""
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }
