"""Study the train_iris run named by `study.of`: what it relies on, where it errs, what the data look like."""

import pandas as pd
from omegaconf import DictConfig

from datasets.iris.common import CLASS_NAMES
from mlrepo.run import tasks
from mlrepo.track import tracking
from train.estudy_iris.steps.analyze import (
    importance_figure,
    pairwise_figure,
    per_class_errors,
    permutation_importance_table,
)
from train.iris.steps.ingest import ingest
from train.iris.steps.split import split
from train.iris.steps.transform import transform


def train(config: DictConfig) -> str:
    """Run the study on the studied run's own test split; return the report (markdown)."""
    studied = tasks.studied_run(config)
    params = studied.data.params
    model = tasks.load_studied_model(config)
    features, labels = transform(ingest(None))
    # The studied run's own held-out rows: its test size and seed are among its params.
    _, x_test, _, y_test = split(features, labels, float(params["data.test_size"]), int(params["train.seed"]))
    predicted = pd.Series(model.predict(x_test), index=y_test.index)

    importance = permutation_importance_table(model, x_test, y_test, config.study.repeats, config.study.seed)
    errors = per_class_errors(y_test, predicted, CLASS_NAMES)
    tracking.log_metrics(
        {
            "test_accuracy": float((predicted == y_test).mean()),
            "top_importance": float(importance["importance_mean"].iloc[0]),
            "errors": float(errors["errors"].sum()),
        }
    )
    tasks.log_table(importance, "tables/permutation_importance.json")
    tasks.log_table(errors, "tables/per_class_errors.json")
    tracking.log_figure(importance_figure(importance), "plots/permutation_importance.png")
    tracking.log_figure(pairwise_figure(features, labels, CLASS_NAMES), "plots/pairwise_features.png")
    tracking.log_confusion_matrix(y_test, predicted, labels=CLASS_NAMES)

    top = importance.index[0]
    worst = errors["recall"].idxmin()
    return "\n".join(
        [
            f"# Study of run `{studied.info.run_id}` ({studied.data.tags.get('pipeline', '?')})",
            "",
            f"On its own test split ({len(y_test)} rows) the model errs on {int(errors['errors'].sum())} "
            f"rows. It relies most on **{top}** (accuracy drops by "
            f"{importance['importance_mean'].iloc[0]:.3f} when it is shuffled); the class it recalls "
            f"worst is **{worst}** (recall {errors.loc[worst, 'recall']:.3f}).",
            "",
            "## Permutation importance",
            "",
            importance.round(4).to_markdown(),
            "",
            "## Errors per class",
            "",
            errors.round(4).to_markdown(),
        ]
    )
