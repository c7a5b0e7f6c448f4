"""Fit the IrisClassifier."""

import pandas as pd
from sklearn.pipeline import Pipeline

from models.IrisClassifier.model import IrisClassifier


def fit(x_train: pd.DataFrame, y_train: pd.Series, C: float, max_iter: int, seed: int) -> Pipeline:
    """Build an IrisClassifier with these hyper-parameters and fit it."""
    return IrisClassifier(C=C, max_iter=max_iter, seed=seed).build().fit(x_train, y_train)
