"""Turn the raw table into model inputs and labels."""

import pandas as pd

from datasets.iris.common import FEATURES, TARGET
from mlrepo.run.steps import step


@step
def transform(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Split the table into the feature columns (float) and the label column.

    Raises:
        ValueError: a feature or the label column is missing, or a value is missing.
    """
    missing = [c for c in [*FEATURES, TARGET] if c not in frame.columns]
    if missing:
        raise ValueError(f"Iris table lacks the columns {missing}")
    if frame[[*FEATURES, TARGET]].isna().any().any():
        raise ValueError("Iris table has missing values")
    return frame[FEATURES].astype("float64"), frame[TARGET]
