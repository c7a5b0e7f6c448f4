"""Select the train, validation and test rows the table stores (the split is never recomputed)."""

import pandas as pd

from datasets.digits.common import SPLITS
from mlrepo.run.steps import step


@step
def split(
    features: pd.DataFrame, labels: pd.Series, splits: pd.Series, max_train_rows: int | None = None
) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Return `{split name: (features, labels)}` for `train`, `validation` and `test`.

    Args:
        features: the model inputs.
        labels: the labels, aligned with `features`.
        splits: the stored split of each row.
        max_train_rows: keep at most this many training rows (a development cap); None keeps all.

    Raises:
        ValueError: a split has no rows.
    """
    parts = {}
    for name in SPLITS:
        mask = (splits == name).to_numpy()
        if not mask.any():
            raise ValueError(f"the table has no '{name}' rows")
        parts[name] = (features[mask], labels[mask])
    if max_train_rows is not None:
        x_train, y_train = parts["train"]
        parts["train"] = (x_train.head(max_train_rows), y_train.head(max_train_rows))
    return parts
