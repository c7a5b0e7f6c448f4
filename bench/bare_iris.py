"""The baseline for bench/runner_overhead.py: Iris trained and logged by a plain script.

Same data, split, model, metrics, plot, params, config artifacts and model logging as
`python -m train pipeline=train_iris`, without Hydra or the runner.
"""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
NAMES = ["setosa", "versicolor", "virginica"]


def main() -> None:
    """Train and log one Iris run into the store named by MLFLOW_TRACKING_URI."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    bunch = load_iris()
    x = pd.DataFrame(bunch.data, columns=FEATURES)
    y = pd.Series(pd.Categorical.from_codes(bunch.target, categories=NAMES).astype(str))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=42, stratify=y)
    mlflow.set_experiment("bare_iris")
    params = {"model.C": 1.0, "model.max_iter": 200, "train.seed": 42, "data.test_size": 0.3}
    with mlflow.start_run(tags={"pipeline": "bare_iris", "git.commit": commit}):
        mlflow.log_params(params)
        mlflow.log_text(str(params), "config/config.yaml")
        mlflow.log_text("[]", "config/overrides.yaml")
        model = Pipeline(
            [
                ("scale", StandardScaler()),
                ("classify", LogisticRegression(C=1.0, max_iter=200, random_state=42)),
            ]
        ).fit(x_train, y_train)
        predicted = model.predict(x_test)
        mlflow.log_metrics(
            {
                "accuracy": accuracy_score(y_test, predicted),
                "f1_macro": f1_score(y_test, predicted, average="macro"),
            }
        )
        display = ConfusionMatrixDisplay.from_predictions(y_test, predicted, labels=NAMES, colorbar=False)
        mlflow.log_figure(display.figure_, "plots/confusion_matrix.png")
        example = x_test.head(5)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
        )


if __name__ == "__main__":
    sys.exit(main())
