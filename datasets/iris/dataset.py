"""Create the Iris table from scikit-learn's bundled copy (no network)."""

import pandas as pd

from datasets.iris.common import CLASS_NAMES, FEATURES, TARGET


def load_iris_frame() -> pd.DataFrame:
    """Load Iris as one table: the four `FEATURES` in cm and the `TARGET` species name.

    Returns:
        150 rows, columns `FEATURES + [TARGET]`.
    """
    from sklearn.datasets import load_iris

    bunch = load_iris()
    frame = pd.DataFrame(bunch.data, columns=FEATURES)
    frame[TARGET] = pd.Categorical.from_codes(bunch.target, categories=CLASS_NAMES).astype(str)
    return frame
