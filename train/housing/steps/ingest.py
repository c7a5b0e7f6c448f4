"""Read the raw housing table."""

import pandas as pd

from datasets.housing.dataset import load_housing_frame
from mlrepo.run.steps import step


@step
def ingest(max_rows: int | None = None) -> pd.DataFrame:
    """Load the housing table, keeping at most `max_rows` rows (a development cap)."""
    frame = load_housing_frame()
    return frame if max_rows is None else frame.head(max_rows)
