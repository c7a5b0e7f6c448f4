"""Read the raw Iris table."""

import pandas as pd

from datasets.iris.dataset import load_iris_frame
from mlrepo.run.steps import step


@step
def ingest(max_rows: int | None = None) -> pd.DataFrame:
    """Load the Iris table, keeping at most `max_rows` rows (a development cap)."""
    frame = load_iris_frame()
    return frame if max_rows is None else frame.head(max_rows)
