"""Train a HousingRegressor: ingest → transform → split → fit → evaluate."""

from omegaconf import DictConfig
from sklearn.pipeline import Pipeline

from datasets.housing.common import TARGET
from mlrepo.track import tracking
from train.housing.steps.ingest import ingest
from train.housing.steps.metrics import evaluate
from train.housing.steps.split import split
from train.housing.steps.train import fit
from train.housing.steps.transform import transform


def train(config: DictConfig) -> Pipeline:
    """Train and evaluate a HousingRegressor as `config` says; return the fitted model."""
    features, target = transform(ingest(config.data.max_rows))
    x_train, x_test, y_train, y_test = split(features, target, config.data.test_size, config.train.seed)
    model = fit(x_train, y_train, config.model)

    predicted = model.predict(x_test)
    tracking.log_metrics(evaluate(y_test, predicted))
    tracking.log_regression_figures(y_test, predicted, target=TARGET)
    tracking.log_categories(x_train)  # the districts: the served contract's allowed values
    tracking.set_input_example(x_test.head(5))
    return model
