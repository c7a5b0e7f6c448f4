"""Hold out a stratified test set."""

import pandas as pd
from sklearn.model_selection import train_test_split

from mlrepo.run.steps import step


@step
def split(
    features: pd.DataFrame, labels: pd.Series, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Return `(x_train, x_test, y_train, y_test)`, stratified by label."""
    return train_test_split(features, labels, test_size=test_size, random_state=seed, stratify=labels)
