"""Turn the digits table into model inputs, labels and the stored split."""

import pandas as pd

from datasets.digits.common import PIXELS, SPLIT, SPLITS, TARGET
from mlrepo.run.steps import step
from models.DigitsCNN.common import MAX_INK


@step
def transform(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Split the table into the pixel columns (float32, as the model reads them), labels and split.

    Raises:
        ValueError: a column is missing, a value is missing, a pixel is out of 0–16, or a split is unknown.
    """
    missing = [c for c in [*PIXELS, TARGET, SPLIT] if c not in frame.columns]
    if missing:
        raise ValueError(f"digits table lacks the columns {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if frame[[*PIXELS, TARGET, SPLIT]].isna().any().any():
        raise ValueError("digits table has missing values")
    pixels = frame[PIXELS].astype("float32")
    if ((pixels < 0) | (pixels > MAX_INK)).any().any():
        raise ValueError(f"digits table has pixels outside 0–{MAX_INK:g}")
    unknown = sorted(set(frame[SPLIT]) - set(SPLITS))
    if unknown:
        raise ValueError(f"digits table has unknown splits {unknown}; expected {list(SPLITS)}")
    return pixels, frame[TARGET].astype("int64"), frame[SPLIT]
