"""The HousingRegressor: one-hot districts and numeric columns into gradient-boosted trees."""

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from datasets.housing.common import CATEGORICAL
from models.HousingRegressor.common import DEFAULT_LEARNING_RATE


class HousingRegressor:
    """Builds the scikit-learn estimator that predicts a house's sale price.

    Args:
        learning_rate: the boosting's shrinkage of each tree's contribution.
        max_iter: the most boosting iterations (trees).
        max_leaf_nodes: the most leaves of each tree.
        seed: the random seed.
    """

    def __init__(
        self,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        max_iter: int = 200,
        max_leaf_nodes: int = 15,
        seed: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.seed = seed

    def build(self) -> Pipeline:
        """Return an unfitted `OneHotEncoder(district) → HistGradientBoostingRegressor` pipeline."""
        encode = ColumnTransformer(
            [("district", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
            remainder="passthrough",
        )
        regress = HistGradientBoostingRegressor(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            random_state=self.seed,
        )
        return Pipeline([("encode", encode), ("regress", regress)])
