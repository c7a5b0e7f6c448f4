"""MLflow tracking: where runs go, and what a pipeline logs during its run.

A pipeline logs through this module (`tracking.log_metrics`, `tracking.log_confusion_matrix`,
`tracking.log_regression_figures`, `tracking.log_classification_figures`,
`tracking.set_input_example`), never through MLflow directly, so that tracking happens in
one place. MLflow is imported inside the functions: `import mlrepo.track.tracking` is cheap.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlrepo import ROOT

SQLITE_PREFIX = "sqlite:///"
#: How long a SQLite writer waits for another one's lock before "database is locked".
BUSY_TIMEOUT_S = 120


def resolve_uri(configured: str, root: Path = ROOT) -> str:
    """The tracking URI to use: `MLFLOW_TRACKING_URI` if set, else the configured one.

    A relative SQLite path resolves against the repository root, not the working directory.

    Args:
        configured: the URI from the config (`tracking.uri`).
        root: what a relative path is relative to.

    Returns:
        An absolute URI.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith(SQLITE_PREFIX):
        path, sep, query = uri[len(SQLITE_PREFIX) :].partition("?")
        if not path.startswith("/"):
            path = str((root / path).resolve())
        uri = SQLITE_PREFIX + path + sep + query
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, or None for other stores."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    return Path(uri[len(SQLITE_PREFIX) :].partition("?")[0])


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive file lock beside a SQLite store (a no-op for other stores).

    Schema creation and experiment creation run under it: MLflow's own migrations race
    when several processes open a fresh SQLite file at once.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _schema_ready(db: Path) -> bool:
    if not db.exists():
        return False
    with sqlite3.connect(db) as conn:
        found = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
    return found is not None


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment's artifacts go: beside a SQLite store; the server decides otherwise."""
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.parent / "artifacts" / experiment).as_uri()


def with_busy_timeout(uri: str, seconds: int = BUSY_TIMEOUT_S) -> str:
    """A SQLite URI with a busy timeout (`?timeout=`), so parallel writers wait instead of failing.

    Other URIs, and SQLite URIs that already set one, are returned unchanged.
    """
    if sqlite_path(uri) is None or "timeout=" in uri:
        return uri
    return uri + ("&" if "?" in uri else "?") + f"timeout={seconds}"


def connect(uri: str) -> str:
    """Point MLflow at `uri`, creating a SQLite store's schema once, under the lock.

    Args:
        uri: an absolute tracking URI (see `resolve_uri`).

    Returns:
        The URI MLflow now uses (a SQLite one gets a busy timeout): pass it to `MlflowClient`.
    """
    import mlflow

    uri = with_busy_timeout(uri)
    mlflow.set_tracking_uri(uri)
    db = sqlite_path(uri)
    if db is None or _schema_ready(db):
        return uri
    with store_lock(uri):
        if _schema_ready(db):
            return uri
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        SqlAlchemyStore(uri, (db.parent / "artifacts").as_uri())
        with sqlite3.connect(db) as conn:
            # WAL lets readers and one writer work at once; it is a property of the file.
            conn.execute("PRAGMA journal_mode=WAL")
    return uri


def experiment_id(name: str, uri: str) -> str:
    """The id of the experiment `name`, created (under the store lock) when missing.

    Args:
        name: the experiment name (the pipeline's name).
        uri: the tracking URI, already passed to `connect`.

    Returns:
        The experiment id.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    with store_lock(uri):
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_location(uri, name))
        except MlflowException:  # created meanwhile by a process that does not share our lock
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


def check_access(uri: str) -> None:
    """For a tracking server, check that it answers and accepts our login (one small request).

    Raises:
        UserError: the server does not answer, or refuses the login (the message names
            `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
    """
    if uri.startswith(("http://", "https://")):
        from mlrepo.server.auth import request

        request(uri, "POST", "api/2.0/mlflow/experiments/search", {"max_results": 1})


def start_run(experiment: str, uri: str, tags: Mapping[str, str]) -> tuple[str, Any]:
    """Start a run in `experiment` (created when missing); a refused write is a `UserError`.

    Args:
        experiment: the experiment name.
        uri: the tracking URI, already passed to `connect`.
        tags: the run's tags.

    Returns:
        The experiment id and the active run.

    Raises:
        UserError: the server refused the login or the permission: no run was created.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        exp_id = experiment_id(experiment, uri)
        return exp_id, mlflow.start_run(experiment_id=exp_id, tags=dict(tags))
    except MlflowException as exc:
        from mlrepo.server.auth import access_error

        error = access_error(uri, exc)
        if error is None:
            raise
        raise error from None


# --- what a pipeline logs during its run -------------------------------------------------


class _RunState:
    """What the running pipeline handed over for the runner to use after `train` returns."""

    def __init__(self) -> None:
        self.input_example: Any = None


_state = _RunState()


def reset() -> None:
    """Forget what the previous run handed over (the runner calls it before each run)."""
    _state.input_example = None


def set_input_example(example: Any) -> None:
    """Give the runner a few real input rows: they become the model's input example and signature.

    Args:
        example: a small pandas DataFrame or numpy array of model inputs.
    """
    _state.input_example = example


def input_example() -> Any:
    """The input example set by the pipeline, or None."""
    return _state.input_example


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics in one call (one batch, not one request per value)."""
    import mlflow

    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


def log_params(params: Mapping[str, Any]) -> None:
    """Log extra parameters the pipeline computed (the config is logged by the runner)."""
    import mlflow

    mlflow.log_params(dict(params))


def log_figure(figure: Any, path: str) -> None:
    """Log a matplotlib figure as a PNG artifact at `path` and close it."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, path)
    plt.close(figure)


def log_confusion_matrix(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    labels: Sequence[str],
    path: str = "plots/confusion_matrix.png",
) -> None:
    """Log the confusion matrix of a classifier as a PNG artifact.

    Args:
        y_true: the true labels.
        y_pred: the predicted labels.
        labels: the class names, in the order the matrix shows them.
        path: the artifact path.
    """
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(labels), cmap="Blues", colorbar=False
    )
    display.ax_.set_title("Confusion matrix (test set)")
    log_figure(display.figure_, path)


def log_classification_figures(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any] | None = None
) -> None:
    """Log a classifier's card figures: the confusion matrix of the test set.

    Args:
        y_true: the true labels.
        y_pred: the predicted labels.
        labels: the class names in the order to show them (default: every label seen, sorted).
    """
    shown = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    log_confusion_matrix(y_true, y_pred, labels=shown)


def log_regression_figures(y_true: Sequence[float], y_pred: Sequence[float], target: str = "target") -> None:
    """Log a regressor's card figures: predicted against actual values, and the residuals.

    Args:
        y_true: the true values of the test set.
        y_pred: the predicted values.
        target: the target's name, for the axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    actual, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = actual - predicted
    figure, ax = plt.subplots(figsize=(4.5, 4))
    ax.scatter(actual, predicted, s=12, alpha=0.7)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="predicted = actual")
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("Predicted against actual (test set)")
    ax.legend(loc="upper left", fontsize=8)
    log_figure(figure, "plots/predicted_vs_actual.png")
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.scatter(predicted, residuals, s=12, alpha=0.7)
    left.axhline(0, color="grey", linestyle="--", linewidth=1)
    left.set_xlabel(f"predicted {target}")
    left.set_ylabel("residual (actual - predicted)")
    right.hist(residuals, bins=30)
    right.set_xlabel("residual")
    right.set_ylabel("rows")
    figure.suptitle("Residuals (test set)")
    figure.tight_layout()
    log_figure(figure, "plots/residuals.png")


def log_categories(frame: Any) -> dict[str, list[str]]:
    """Log the values of the training table's categorical columns: the served contract's enumerations.

    A string column with at most `mlrepo.ship.records.MAX_CATEGORIES` (50) distinct values is
    categorical; its sorted values are logged as `contract/categories.json`. A deploy imports them
    with the run: `/docs` and the try-it page list them, and an unseen value is answered 400
    (unless the deploy allows unseen values).

    Args:
        frame: the training rows' features (e.g. `x_train`).

    Returns:
        `{column: values}` as logged (empty when no column is categorical: nothing is logged).
    """
    import mlflow

    from mlrepo.ship.records import CATEGORIES_ARTIFACT, categories_of

    found = categories_of(frame)
    if found:
        mlflow.log_dict(found, CATEGORIES_ARTIFACT)
    return found
