"""Fit the HousingRegressor."""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from models.HousingRegressor.model import HousingRegressor


def fit(x_train: pd.DataFrame, y_train: pd.Series, params: Mapping[str, Any]) -> Pipeline:
    """Build a HousingRegressor with the config's `model` values as its arguments, and fit it."""
    return HousingRegressor(**params).build().fit(x_train, y_train)
