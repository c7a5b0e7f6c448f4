"""What a pipeline produces, decided by the task in its name: a model, a table or a report.

`train(config)` is every pipeline's one entry point; the runner hands what it returns to
`handle`, which checks it against the task of the pipeline's name (`<task>_<name>`, the tasks
of `conf/governance.yaml`, or `<model&version>-<dataset&version>` for training):

- `train_*` and `<model&version>-<dataset&version>`: a model, logged with its flavour (and
  registered on production). Nothing returned: the run FAILED, saying so.
- `dataset_*`: a pandas DataFrame, written as the table `data.table` (its Parquet metadata holds
  the run's `run.uid`) and logged as the run's dataset output with schema, rows and a profile.
- `estudy_*` (`study_*`): a report (markdown or HTML) stored as `report.html`, or None; the
  run is tagged `study.of=<run id>` and the studied run `studied.by=<run id>`.

Every run then logs its card (`mlrepo.track.card`). A study names what it studies in `study.of`
(a run id, `models:/<name>@<alias>`, or `best:<pipeline>`); `prepare` resolves it to a run id
(`study.run_id`) before the run identity is computed, so a study of another run is another run.
MLflow is imported inside the functions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from mlrepo.errors import UserError

log = logging.getLogger("mlrepo.run.tasks")

TASKS = ("train", "dataset", "estudy", "study")
"""The reserved tasks, in the order listings show them (`estudy` is the team's spelling of study)."""
STUDY_TASKS = ("estudy", "study")
TAG_STUDY_OF = "study.of"
TAG_STUDIED_BY = "studied.by"
REPORT = "report.html"
"""The artifact a study's report is stored as."""
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_PAIR = re.compile(r"^[a-z][a-z0-9]*v[0-9]+-[a-z][a-z0-9]*v[0-9]+$")


class NothingReturnedError(UserError):
    """`train(config)` returned nothing (or the wrong kind of thing) for its task: the run FAILED."""

    exit_code = 1


def task_of(pipeline: str) -> str:
    """The task of a pipeline name: `train_iris` → `train`, `cnnv1-digitsv1` → `train`.

    A name with no reserved task (which the checker refuses) counts as training.
    """
    task = pipeline.partition("_")[0]
    if task in TASKS and "_" in pipeline:
        return task
    return "train"


def group(names: Iterable[str]) -> dict[str, list[str]]:
    """Pipeline names by task, tasks in the order of `TASKS`, names sorted."""
    out: dict[str, list[str]] = {}
    for name in sorted(names):
        out.setdefault(task_of(name), []).append(name)
    return {task: out[task] for task in TASKS if task in out}


def group_runs(records: Sequence[Any]) -> dict[str, list[Any]]:
    """Runs (`mlrepo.track.runs.RunRecord`) by the task of their pipeline, tasks in the order of `TASKS`."""
    out: dict[str, list[Any]] = {}
    for record in records:
        out.setdefault(task_of(record.tags.get("pipeline", record.experiment)), []).append(record)
    return {task: out[task] for task in TASKS if task in out}


def usage_lines(names: Sequence[str]) -> list[str]:
    """The `pipelines:` lines of `python -m train --help`, one per task."""
    meaning = {"train": "a model", "dataset": "a table", "estudy": "a report", "study": "a report"}
    return [
        f"  {task + ':':9} {', '.join(found)}   (returns {meaning[task]})"
        for task, found in group(names).items()
    ]


# --- before the run ------------------------------------------------------------------------


def prepare(cfg: DictConfig, uri: str) -> None:
    """Resolve what a study studies (`study.of`) to a run id, set as `study.run_id` (part of run.uid).

    Does nothing for other tasks.

    Raises:
        UserError: a study config without `study.of`, or a target that names no run.
    """
    if task_of(str(cfg.pipeline.name)) not in STUDY_TASKS:
        return
    target = OmegaConf.select(cfg, "study.of")
    if not target:
        raise UserError(
            f"Pipeline {cfg.pipeline.name} is a study but names nothing to study: set `study.of` to a "
            "run id, models:/<name>@<alias>, or best:<pipeline> (e.g. best:train_iris)."
        )
    run_id = resolve(str(target), uri)
    with open_dict(cfg):
        cfg.study.run_id = run_id
    log.info("studying run %s (%s)", run_id, target)


def resolve(target: str, uri: str) -> str:
    """The run id a study target names.

    Args:
        target: a run id; `models:/<name>@<alias>` (a registry alias); or `best:<pipeline>`, the
            FINISHED run of that pipeline with the best value of its `pipeline.metric` (the
            highest or the lowest, as its goal says: `mlrepo.run.metric`; the newest of equals).
        uri: the tracking URI.

    Raises:
        UserError: the target names no run.
    """
    from mlrepo.track import runs

    if _RUN_ID.match(target):
        return target
    if target.startswith("best:"):
        pipeline = target[len("best:") :]
        found = [r for r in runs.reader(uri).search([pipeline], status="FINISHED", limit=1000)]
        from mlrepo.run import metric

        scored = [(r.metrics[m.name], m.goal, r.run_id) for r in found
                  if (m := metric.of_run(r.params, r.tags)) is not None and m.name in r.metrics]  # fmt: skip
        if not scored:
            raise UserError(
                f"study.of is {target}, but pipeline {pipeline} has no FINISHED run with its metric in "
                f"this store: run `python -m train pipeline={pipeline}` first."
            )
        # The newest run's goal decides (a config may have gained one); ties go to the newest
        # run (the search lists newest first), as a deploy chooses.
        return metric.best(scored, lambda triple: triple[0], scored[0][1])[2]
    if target.startswith("models:/") and "@" in target:
        name, _, alias = target[len("models:/") :].partition("@")
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            return MlflowClient(uri).get_model_version_by_alias(name, alias).run_id
        except MlflowException as exc:
            raise UserError(f"study.of is {target}, but the registry has no such alias ({exc}).") from None
    raise UserError(
        f"study.of is '{target}': use a run id (32 hex digits), models:/<name>@<alias>, or best:<pipeline>."
    )


def mode_for(cfg: DictConfig, mode: str, uid: str) -> str:
    """The mode a run really has: `force` for a dataset run whose table is missing or not its own.

    A finished dataset run is reusable only while its table is there with that run's `run.uid` in
    the metadata (DVC deletes a stage's output before running it again); otherwise `mode`.
    """
    if mode == "force" or task_of(str(cfg.pipeline.name)) != "dataset":
        return mode
    from mlrepo.track import tables

    path = tables.path_of(str(cfg.data.table), str(cfg.paths.data))
    if path.exists() and tables.metadata_of(path).get("run_uid") == uid:
        return mode
    log.info("table %s is missing or was made by another run.uid: building it", path.name)
    return "force"


def table_metadata(pipeline: str) -> dict[str, str]:
    """What a `dataset_` pipeline run with its defaults writes in its table's metadata.

    Code that materializes the same table without a run (a pipeline that finds it missing)
    writes the same bytes with it, so the md5 stays the one `dvc.lock` records.
    """
    from mlrepo.run.config import compose
    from mlrepo.run.runner import identity_of

    choice = [f"pipeline={pipeline}"]
    return {"run_uid": identity_of(compose(choice), choice).uid, "pipeline": pipeline}


def producer_metadata(table: str) -> dict[str, str]:
    """The metadata a table's `dataset_` pipeline writes in it (see `table_metadata`), or `{}` when
    no `dataset_` pipeline config builds `table` (its `data.table`).

    A dataset's `materialize_table` calls it, so a table written without a run has the bytes, and
    the md5, that the pipeline's DVC stage records.
    """
    import yaml

    from mlrepo import ROOT

    for path in sorted((ROOT / "conf" / "pipeline").glob("dataset_*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        if isinstance(config, dict) and (config.get("data") or {}).get("table") == table:
            return table_metadata(path.stem)
    return {}


# --- after train(config) returned -----------------------------------------------------------


def handle(cfg: DictConfig, product: Any, run_id: str) -> None:
    """Check and store what `train(config)` returned, as the pipeline's task says, then log the card.

    Raises:
        NothingReturnedError: nothing, or the wrong kind of thing, for the task (exit 1).
    """
    task = task_of(str(cfg.pipeline.name))
    if task == "dataset":
        _store_table(cfg, product)
    elif task in STUDY_TASKS:
        _store_report(cfg, product, run_id)
    else:
        _store_model(cfg, product)
    from mlrepo.track import card

    card.log_card(run_id)


def log_failed_card(run_id: str) -> None:
    """Log the card of a run about to end FAILED (its error shows on it).

    A card that cannot be drawn there is a warning only: the run's own error is what to report.
    """
    from mlrepo.track import card

    try:
        card.log_card(run_id, status="FAILED")
    except Exception as exc:  # noqa: BLE001 - the failure being reported matters more than its card
        log.warning("no card for the failed run %s: %s: %s", run_id, type(exc).__name__, exc)


def _store_model(cfg: DictConfig, model: Any) -> None:
    import mlflow

    from mlrepo.track import tracking
    from mlrepo.track.flavors import log_model

    if model is None:
        raise NothingReturnedError(
            f"train() in train/{cfg.pipeline.code}/pipeline.py returned nothing, but {cfg.pipeline.name} "
            "is a training pipeline: return the trained model (a scikit-learn estimator, a Keras model or an "
            "mlflow.pyfunc.PythonModel). A pipeline that builds a table is named dataset_<name>; one that "
            "studies a model, estudy_<name>."
        )
    info = log_model(model, tracking.input_example())
    if cfg.branch.register_model:
        mlflow.register_model(info.model_uri, str(cfg.pipeline.model))


def _store_table(cfg: DictConfig, frame: Any) -> None:
    import mlflow
    import pandas as pd

    from mlrepo.track import tables

    if not isinstance(frame, pd.DataFrame):
        raise NothingReturnedError(
            f"train() in train/{cfg.pipeline.code}/pipeline.py returned "
            f"{'nothing' if frame is None else 'a ' + type(frame).__name__}, but {cfg.pipeline.name} is a "
            "dataset pipeline: return the table as a pandas DataFrame."
        )
    name = str(cfg.data.table)
    uid = mlflow.active_run().data.tags.get("run.uid", "")
    path = tables.materialize(
        frame, name, str(cfg.paths.data), {"run_uid": uid, "pipeline": str(cfg.pipeline.name)}
    )
    logged = tables.log_output(name, frame, path, str(cfg.paths.root))
    digest, source = logged["digest"], logged["source"]
    mlflow.set_tags({"dataset.table": name, "dataset.md5": digest})
    mlflow.log_metrics({"rows": float(len(frame)), "columns": float(frame.shape[1])})
    schema = {str(c): str(t) for c, t in frame.dtypes.items()}
    mlflow.log_dict({"table": name, "path": source, "md5": digest, "rows": len(frame), "schema": schema},
                    "dataset/schema.json")  # fmt: skip
    mlflow.log_dict(tables.profile(frame), "dataset/profile.json")
    print(f"Table {name}: {len(frame)} rows × {frame.shape[1]} columns at {source} (md5 {digest})")


def _store_report(cfg: DictConfig, report: Any, run_id: str) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    studied = str(OmegaConf.select(cfg, "study.run_id") or "")
    if report is not None and not isinstance(report, str):
        raise NothingReturnedError(
            f"train() in train/{cfg.pipeline.code}/pipeline.py returned a {type(report).__name__}, but "
            f"{cfg.pipeline.name} is a study: return its report (markdown or HTML text) or None."
        )
    if report:
        from mlrepo.track.card import report_html

        mlflow.log_text(report_html(report, title=str(cfg.pipeline.name)), REPORT)
    if studied:
        mlflow.set_tag(TAG_STUDY_OF, studied)
        client = MlflowClient(mlflow.get_tracking_uri())
        before = client.get_run(studied).data.tags.get(TAG_STUDIED_BY, "")
        ids = [i for i in before.split(",") if i] + [run_id]
        client.set_tag(studied, TAG_STUDIED_BY, ",".join(dict.fromkeys(ids))[-5000:])


# --- what a study's code calls ---------------------------------------------------------------


def studied_run(config: DictConfig) -> Any:
    """The MLflow run the study studies (`study.run_id`, resolved from `study.of` by the runner)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    return MlflowClient(mlflow.get_tracking_uri()).get_run(str(config.study.run_id))


def load_studied_model(config: DictConfig) -> Any:
    """Load the model of the studied run in its own flavour (a scikit-learn model for train_iris)."""
    import os

    import mlflow

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    uri = f"runs:/{config.study.run_id}/model"
    info = mlflow.models.get_model_info(uri)
    if "sklearn" in info.flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(uri)
    return mlflow.pyfunc.load_model(uri)


def log_table(frame: Any, path: str) -> None:
    """Log a small result table as a JSON artifact (`path` ends in `.json`), shown on the run's card."""
    import mlflow

    mlflow.log_text(frame.to_json(orient="split", index=True, double_precision=6), path)


def loads_table(text: str) -> Any:
    """Read back a table logged by `log_table`."""
    import io

    import pandas as pd

    return pd.read_json(io.StringIO(text), orient="split")
