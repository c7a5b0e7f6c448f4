"""Turn the raw table into model inputs and the target."""

import pandas as pd

from datasets.housing.common import CATEGORICAL, FEATURES, NUMERIC, TARGET
from mlrepo.run.steps import step


@step
def transform(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split the table into the feature columns (numbers as float, districts as text) and the price.

    Raises:
        ValueError: a feature or the target column is missing, or a value is missing.
    """
    missing = [c for c in [*FEATURES, TARGET] if c not in frame.columns]
    if missing:
        raise ValueError(f"housing table lacks the columns {missing}")
    if frame[[*FEATURES, TARGET]].isna().any().any():
        raise ValueError("housing table has missing values")
    features = frame[FEATURES].astype({c: "float64" for c in NUMERIC} | {c: str for c in CATEGORICAL})
    return features, frame[TARGET].astype("float64")
