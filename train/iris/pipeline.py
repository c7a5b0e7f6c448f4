"""Train an IrisClassifier: ingest → transform → split → fit → evaluate."""

from omegaconf import DictConfig
from sklearn.pipeline import Pipeline

from datasets.iris.common import CLASS_NAMES
from mlrepo.track import tracking
from train.iris.steps.ingest import ingest
from train.iris.steps.metrics import evaluate
from train.iris.steps.split import split
from train.iris.steps.train import fit
from train.iris.steps.transform import transform


def train(config: DictConfig) -> Pipeline:
    """Train and evaluate an IrisClassifier as `config` says; return the fitted model."""
    features, labels = transform(ingest(config.data.max_rows))
    x_train, x_test, y_train, y_test = split(features, labels, config.data.test_size, config.train.seed)
    model = fit(x_train, y_train, C=config.model.C, max_iter=config.model.max_iter, seed=config.train.seed)

    predicted = model.predict(x_test)
    tracking.log_metrics(evaluate(y_test, predicted))
    tracking.log_confusion_matrix(y_test, predicted, labels=CLASS_NAMES)
    tracking.set_input_example(x_test.head(5))
    return model
