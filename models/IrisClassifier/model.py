"""The IrisClassifier: standardized measurements into a multinomial logistic regression."""

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.IrisClassifier.common import DEFAULT_C


class IrisClassifier:
    """Builds the scikit-learn estimator that classifies Iris flowers.

    Args:
        C: inverse regularization strength of the logistic regression.
        max_iter: the solver's iteration cap.
        seed: the random seed.
    """

    def __init__(self, C: float = DEFAULT_C, max_iter: int = 200, seed: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def build(self) -> Pipeline:
        """Return an unfitted `StandardScaler → LogisticRegression` pipeline."""
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("classify", LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)),
            ]
        )
