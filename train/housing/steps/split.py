"""Hold out a random test set (a regression target: nothing to stratify by)."""

import pandas as pd
from sklearn.model_selection import train_test_split

from mlrepo.run.steps import step


@step
def split(
    features: pd.DataFrame, target: pd.Series, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Return `(x_train, x_test, y_train, y_test)`, shuffled with `seed`."""
    return train_test_split(features, target, test_size=test_size, random_state=seed)
