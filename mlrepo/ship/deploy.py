"""Machinery shared by deploys (`deploy/<Model>/V<n>/`): find the run to ship, import it into
BentoML with its input contract, predict from the command line or a CSV, serve, record lineage
on the run. The service itself is `mlrepo/ship/serving.py`; the ECR push is `mlrepo/ship/ecr.sh`.

Command line (what `make predict`, `make predict-batch` and `ecr.sh` call):

    python -m mlrepo.ship.deploy predict --model IrisClassifier/V1 5.1 3.5 1.4 0.2
    python -m mlrepo.ship.deploy predict-batch --model IrisClassifier/V1 --file rows.csv [--out out.csv]
    python -m mlrepo.ship.deploy serve --model IrisClassifier/V1 [--port 3000]
    python -m mlrepo.ship.deploy tag-run --run-id ID deploy.image_uri=... deploy.image_digest=...

MLflow and BentoML are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlrepo import ROOT
from mlrepo.errors import UserError
from mlrepo.ship import records

DEPLOY_DIR = ROOT / "deploy"
MODEL_ARTIFACT = "model"
#: Run tags copied into the BentoML model's labels (label name: run tag).
LINEAGE_TAGS = {
    "pipeline": "pipeline",
    "branch": "branch",
    "git_commit": "git.commit",
    "git_dirty": "git.dirty",
    "dataset_version": "dataset.version",
    "run_uid": "run.uid",
}


@dataclass
class ChosenRun:
    """The MLflow run a deploy ships.

    Attributes:
        run_id: the MLflow run id.
        uri: the tracking URI it lives in.
        metric: the pipeline's main metric name.
        value: its value for this run (None when the run has not logged it).
        tags: the run's tags.
    """

    run_id: str
    uri: str
    metric: str
    value: float | None
    tags: dict[str, str]


def available_deploys(root: Path = DEPLOY_DIR) -> list[str]:
    """The deploys in the repository, as `Model/V<n>` (folders holding a `common.py`)."""
    return sorted(str(p.parent.relative_to(root)) for p in root.glob("*/V*/common.py"))


def load_common(model: str, root: Path = DEPLOY_DIR) -> ModuleType:
    """Load `deploy/<model>/common.py` (deploy folders are not packages: loaded by path).

    Args:
        model: the deploy, e.g. `IrisClassifier/V1`.
        root: the folder holding the deploys.

    Raises:
        UserError: no such deploy.
    """
    path = root / model / "common.py"
    if not path.is_file():
        raise UserError(
            f"Unknown deploy '{model}': there is no deploy/{model}/common.py. "
            f"Available deploys: {', '.join(available_deploys(root)) or 'none'}. Pass MODEL=<Model>/V<n>."
        )
    name = "deploy_common_" + model.replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # cloudpickle pickles functions by value only from a module it can find in sys.modules.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pipeline_setup(pipeline: str, branch: str) -> tuple[str, str]:
    """The tracking URI and main metric's name of `pipeline` on the super-branch `branch`.

    Returns:
        `(uri, metric)`: the URI resolved as the runner does (MLFLOW_TRACKING_URI wins).
    """
    uri, main = pipeline_metric(pipeline, branch)
    return uri, main.name


def pipeline_metric(pipeline: str, branch: str) -> tuple[str, Any]:
    """The tracking URI and main metric (`mlrepo.run.metric.Metric`, with its goal) of `pipeline`."""
    from mlrepo.run import metric
    from mlrepo.run.config import compose
    from mlrepo.track.tracking import resolve_uri

    cfg = compose([f"pipeline={pipeline}", f"branch={branch}"])
    return resolve_uri(str(cfg.tracking.uri)), metric.of_config(cfg)


def choose_run(pipeline: str, branch: str = "development", run_id: str | None = None) -> ChosenRun:
    """The run to deploy: `run_id` if given, else the best FINISHED run of `pipeline` by its metric.

    Best follows the metric's goal (`pipeline.metric: {name: rmse, goal: minimize}` picks the
    lowest; see `mlrepo.run.metric`). Ties go to the newest run. Runs without the metric (a
    sweep's parent run) are skipped.

    Args:
        pipeline: the pipeline (experiment) name, e.g. `train_iris`.
        branch: the super-branch whose tracking store is read.
        run_id: an explicit run id.

    Raises:
        UserError: the run does not exist, is not FINISHED, or no run qualifies.
    """
    from mlrepo.run.metric import best
    from mlrepo.track.runs import reader

    uri, main = pipeline_metric(pipeline, branch)
    metric = main.name
    found = reader(uri).search([pipeline], limit=100000)
    if run_id:
        match = [r for r in found if r.run_id == run_id]
        if not match:
            raise UserError(
                f"Run '{run_id}' is not a run of pipeline '{pipeline}' in the store {uri}. "
                "List runs with `make runs`, or leave --run-id out to take the best one."
            )
        if match[0].status != "FINISHED":
            raise UserError(f"Run '{run_id}' is {match[0].status}; only a FINISHED run can be deployed.")
        run = match[0]
    else:
        scored = [r for r in found if r.status == "FINISHED" and metric in r.metrics]
        if not scored:
            raise UserError(
                f"No FINISHED run of pipeline '{pipeline}' with metric '{metric}' in the store {uri} "
                f"(super-branch {branch}). Train one first: `make train PIPELINE={pipeline}`."
            )
        run = best(scored, lambda r: r.metrics[metric], main.goal)  # the first (newest) of equals
    return ChosenRun(run.run_id, uri, metric, run.metrics.get(metric), dict(run.tags))


@contextlib.contextmanager
def tracking_store(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking URI at `uri` for a block, then put back what was there,
    the MLFLOW_TRACKING_URI variable included (`mlflow.set_tracking_uri` also sets it): a library
    call must not leave the process, or the processes it starts later, on another store."""
    import mlflow
    from mlflow.tracking import _tracking_service

    previous, variable = _tracking_service.utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if variable is not None:
            os.environ["MLFLOW_TRACKING_URI"] = variable


def alias_run(model: str, alias: str, pipeline: str, branch: str) -> str:
    """The run id of the version of registered model `model` that `alias` points at.

    Raises:
        UserError: no such registered model or alias (says how to promote one).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri, _ = pipeline_setup(pipeline, branch)
    try:
        return MlflowClient(uri).get_model_version_by_alias(model, alias).run_id
    except MlflowException:
        raise UserError(
            f"No version of the registered model '{model}' has the alias '{alias}' in {uri}. Promote a "
            f"production run first: `python -m mlrepo promote RUN_ID --alias {alias}` (or pass --run-id)."
        ) from None


def input_contract(run: ChosenRun, sample_input: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The run's input schema, from its logged model's signature, cross-checked with the deploy's
    sample input; and the sample's first row as the example record.

    Raises:
        UserError: the model has no usable signature, or the sample input does not fit it.
    """
    import mlflow
    import pandas as pd

    from mlrepo.ship import records

    with tracking_store(run.uri):
        info = mlflow.models.get_model_info(f"runs:/{run.run_id}/{MODEL_ARTIFACT}")
    try:
        schema = records.schema_from_signature(info.signature)
        sample = pd.read_csv(sample_input, dtype=str, keep_default_na=False)
        records.check_sample(schema, sample, run_categories(run, schema))
    except ValueError as exc:
        raise UserError(f"Run {run.run_id} cannot be imported for this deploy: {exc}.") from None
    first = sample.iloc[0].to_dict()
    example = {column: records.parse_cell(first[column], kind) for column, kind in schema}
    return schema, example


def run_categories(run: ChosenRun, schema: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The allowed values of the run's categorical input columns, from the artifact the pipeline
    logged (`tracking.log_categories`: string columns of at most 50 values in the training table);
    `{}` for a run that logged none. Only string columns of the schema are kept."""
    import json

    import mlflow
    from mlflow.exceptions import MlflowException

    strings = {column for column, kind in schema if kind == "string"}
    if not strings:
        return {}
    with tracking_store(run.uri):
        try:
            text = mlflow.artifacts.load_text(f"runs:/{run.run_id}/{records.CATEGORIES_ARTIFACT}")
        except (MlflowException, OSError):
            return {}
    found = json.loads(text)
    return {column: [str(v) for v in values] for column, values in found.items() if column in strings}


def import_run(common: ModuleType, run: ChosenRun, deploy: str) -> str:
    """Import the run's logged model into the BentoML model store with its lineage and contract.

    Labels hold the run id, the deploy and the lineage tags; metadata holds the input schema
    (from the model's signature, checked against `sample-input.csv`), an example record and the
    allowed values of its categorical columns (`run_categories`), which the service reads to type
    its API.

    Args:
        common: the deploy's `common.py` module (see `load_common`).
        run: the run to import.
        deploy: the deploy folder, `Model/V<n>`.

    Returns:
        The BentoML model tag, `name:version`.
    """
    import bentoml
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep ecr.sh's log readable
    schema, example = input_contract(run, DEPLOY_DIR / deploy / "sample-input.csv")
    categories = run_categories(run, schema)
    mlflow.set_tracking_uri(run.uri)
    labels = {"run_id": run.run_id, "metric": run.metric, "deploy": deploy}
    labels.update({label: run.tags[tag] for label, tag in LINEAGE_TAGS.items() if tag in run.tags})
    model = bentoml.mlflow.import_model(
        common.MODEL_NAME,
        model_uri=f"runs:/{run.run_id}/{MODEL_ARTIFACT}",
        labels=labels,
        metadata={
            "tracking_uri": run.uri,
            run.metric: run.value,
            "input_schema": [list(pair) for pair in schema],
            "example": example,
            "categories": categories,
        },  # fmt: skip
    )
    return str(model.tag)


def deploy_of(path: str | Path, root: Path = DEPLOY_DIR) -> str:
    """The deploy a file belongs to, `Model/V<n>`, from its folder (`deploy/<Model>/V<n>/...`)."""
    folder = Path(path).resolve().parent
    return str(folder.relative_to(root.resolve()))


def create_bento_model_main(path: str | Path, argv: Sequence[str] | None = None) -> int:
    """The command line of every `deploy/<Model>/V<n>/create_bento_model.py`: choose the run,
    import it, print the model tag; `--output-env` also writes `KEY=value` lines.

    Args:
        path: the calling script's `__file__`: its folder names the deploy.
        argv: the arguments (default: the process's).

    Returns:
        The exit code: 0 imported, 2 a mistake (no such run, no run at all, a contract mismatch).
    """
    deploy = deploy_of(path)
    parser = argparse.ArgumentParser(
        prog=f"deploy/{deploy}/create_bento_model.py",
        description=f"Import an MLflow run into the BentoML model store for deploy {deploy}.",
    )
    parser.add_argument("--run-id", help="the MLflow run to import (default: the best FINISHED run)")
    parser.add_argument("--branch", default="development", help="the super-branch whose store is read")
    parser.add_argument(
        "--alias", help="the Model Registry alias whose version to import (default on production: champion)"
    )
    parser.add_argument("--output-env", type=Path, help="also write RUN_ID, MODEL_TAG, ... to this file")
    args = parser.parse_args(argv)
    alias = args.alias or ("champion" if args.branch == "production" and not args.run_id else None)
    try:
        common = load_common(deploy)
        run_id = args.run_id or (
            alias_run(deploy.split("/")[0], alias, common.PIPELINE, args.branch) if alias else None
        )
        run = choose_run(common.PIPELINE, args.branch, run_id)
        tag = import_run(common, run, deploy)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"Imported run {run.run_id} ({run.metric}={run.value}) as BentoML model {tag} for {deploy}")
    if args.output_env:
        args.output_env.write_text(
            f"RUN_ID={run.run_id}\nMODEL_TAG={tag}\nPIPELINE={common.PIPELINE}\nMODEL_NAME={common.MODEL_NAME}\n"
        )
    return 0


def tag_run(run_id: str, tags: Mapping[str, str], uri: str) -> None:
    """Set tags on an MLflow run (deploy lineage: the image URI and digest)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)


# --- prediction from the command line and from a CSV -----------------------------------------


def stored_model(common: ModuleType, deploy: str = "<Model>/V<n>") -> Any:
    """The deploy's latest model in the BentoML model store.

    Raises:
        UserError: the store holds no such model, or one imported without an input schema.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        stored = bentoml.models.get(f"{common.MODEL_NAME}:latest")
    except NotFound:
        raise UserError(
            f"The BentoML model store has no model '{common.MODEL_NAME}'. Import a run first: "
            f"`make bento-model MODEL={deploy}` (BENTOML_HOME chooses the store)."
        ) from None
    if "input_schema" not in stored.info.metadata:
        raise UserError(
            f"The BentoML model {stored.tag} was imported without an input schema (an older deploy); "
            f"import the run again: `make bento-model MODEL={deploy}`."
        )
    return stored


def load_bento_model(common: ModuleType) -> tuple[Any, list[tuple[str, str]]]:
    """The deploy's latest model as an MLflow pyfunc, and its input schema (see `stored_model`)."""
    import bentoml

    stored = stored_model(common)
    return bentoml.mlflow.load_model(stored), [tuple(p) for p in stored.info.metadata["input_schema"]]


def stored_categories(common: ModuleType) -> dict[str, list[str]]:
    """The allowed values of the categorical columns of the deploy's latest model, for the command-line
    predictions (`{}`: none checked, also when the deploy's `common.py` says `UNSEEN_ALLOWED = True`;
    the service's own flag is `serving.predict_api(..., unseen_allowed=True)` in `service.py`)."""
    if getattr(common, "UNSEEN_ALLOWED", False):
        return {}
    return dict(stored_model(common).info.metadata.get("categories") or {})


def predict_batch(common: ModuleType, source: Path, dest: Path) -> tuple[int, list[tuple[int, str]]]:
    """Predict every row of a CSV; write the rows with a `prediction` and an `error` column.

    Columns beyond the schema's are kept in the output (ids, labels) and not given to the model.

    Args:
        common: the deploy's `common.py` module.
        source: the input CSV, with a header row.
        dest: where the output CSV goes.

    Returns:
        `(predicted, bad)`: how many rows were predicted, and `(row number, problem)` for each bad
        row (row 1 is the first line after the header).

    Raises:
        UserError: the file is missing, empty, or lacks a schema column.
    """
    import pandas as pd

    if not source.is_file():
        raise UserError(f"No such file: {source}. Pass FILE=<path to a CSV with a header row>.")
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise UserError(f"{source} is empty; it needs a header row and at least one row.") from None
    model, schema = load_bento_model(common)
    categories = stored_categories(common)
    columns = [column for column, _ in schema]
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise UserError(
            f"{source} lacks column(s) {', '.join(missing)}; its header must name {', '.join(columns)}."
        )
    good_rows, good_records, bad = [], [], []
    errors = [""] * len(raw)
    for position, row in enumerate(raw[columns].to_dict("records")):
        record = {col: records.parse_cell(row[col], kind) for col, kind in schema}
        problem = records.record_problem(record, schema, categories)
        if problem:
            bad.append((position + 1, problem))
            errors[position] = problem
        else:
            good_rows.append(position)
            good_records.append(record)
    predictions = [""] * len(raw)
    if good_records:
        predicted = model.predict(records.to_frame(good_records, schema))
        for position, label in zip(good_rows, predicted, strict=True):
            predictions[position] = str(label)
    out = raw.copy()
    out["prediction"] = predictions
    out["error"] = errors
    dest.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(dest, index=False)
    return len(good_records), bad


def predict_one(common: ModuleType, values: Sequence[str]) -> str:
    """Predict one record given as values in the schema's column order.

    Raises:
        UserError: the wrong number of values, or a value of the wrong kind.
    """
    model, schema = load_bento_model(common)
    columns = [column for column, _ in schema]
    if len(values) != len(schema):
        raise UserError(
            f"Expected {len(schema)} values ({', '.join(columns)}), got {len(values)}: "
            f'pass them as ARGS="{" ".join("<" + c + ">" for c in columns)}".'
        )
    record = {col: records.parse_cell(v, kind) for (col, kind), v in zip(schema, values, strict=True)}
    problem = records.record_problem(record, schema, stored_categories(common))
    if problem:
        raise UserError(f"Bad input: {problem}.")
    return str(model.predict(records.to_frame([record], schema))[0])


def serve_command(deploy: str, host: str, port: int) -> tuple[list[str], dict[str, str], Path]:
    """How `bentoml serve` runs a deploy: `(argv, environment, working folder)`.

    It runs in the deploy's folder, as BentoML documents; the repository root goes first on
    PYTHONPATH so that this checkout's `mlrepo.ship.serving` is served (not another checkout's
    editable install). `make serve` and `make fuzz` both start it this way.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    service = deploy.split("/")[0]
    args = [sys.executable, "-m", "bentoml", "serve", f"service:{service}"]
    args += ["--host", host, "--port", str(port)]
    return args, env, DEPLOY_DIR / deploy


def serve(common: ModuleType, deploy: str, host: str, port: int) -> int:
    """Run `bentoml serve` for the deploy in its folder (`serve_command`), after checking its model
    is imported.

    Raises:
        UserError: the model is not in the BentoML store (says which command imports it).
    """
    stored_model(common, deploy)
    args, env, folder = serve_command(deploy, host, port)
    print(f"Serving {deploy} ({common.MODEL_NAME}) on http://{host}:{port}  (try it at /, API at /docs)")
    sys.stdout.flush()
    os.chdir(folder)
    os.execve(sys.executable, args, env)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m mlrepo.ship.deploy predict|predict-batch|serve|tag-run ...`.

    Returns:
        The exit code: 0 done, 1 some rows of a batch were bad (the output is still written),
        2 a mistake in the command.
    """
    parser = argparse.ArgumentParser(prog="python -m mlrepo.ship.deploy", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("predict", help="predict one record given as values")
    one.add_argument("--model", required=True, help="the deploy, e.g. IrisClassifier/V1")
    one.add_argument("values", nargs="*", help="one value per input column, in the sample input's order")
    batch = sub.add_parser("predict-batch", help="predict every row of a CSV")
    batch.add_argument("--model", required=True, help="the deploy, e.g. IrisClassifier/V1")
    batch.add_argument("--file", required=True, type=Path, help="the input CSV (with a header row)")
    batch.add_argument("--out", type=Path, help="the output CSV (default outputs/predictions/<name>)")
    served = sub.add_parser("serve", help="bentoml serve a deploy (checks its model is imported first)")
    served.add_argument("--model", required=True, help="the deploy, e.g. IrisClassifier/V1")
    served.add_argument("--port", type=int, default=3000, help="the port on 127.0.0.1")
    served.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    tag = sub.add_parser("tag-run", help="set tags on a run (deploy lineage)")
    tag.add_argument("--run-id", required=True)
    tag.add_argument("--pipeline", required=True, help="the pipeline the run belongs to")
    tag.add_argument("--branch", default="development", help="the super-branch whose store holds it")
    tag.add_argument("tags", nargs="+", help="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        if args.command == "tag-run":
            pairs = dict(t.split("=", 1) for t in args.tags if "=" in t)
            if len(pairs) != len(args.tags):
                raise UserError("Tags are given as KEY=VALUE.")
            uri, _ = pipeline_setup(args.pipeline, args.branch)
            tag_run(args.run_id, pairs, uri)
            return 0
        common = load_common(args.model)
        if args.command == "serve":
            return serve(common, args.model, args.host, args.port)
        if args.command == "predict":
            print(predict_one(common, args.values))
            return 0
        dest = args.out or ROOT / "outputs" / "predictions" / f"{args.file.stem}-predictions.csv"
        predicted, bad = predict_batch(common, args.file, dest)
        for row, problem in bad:
            print(f"row {row}: {problem}", file=sys.stderr)
        print(f"{predicted} rows predicted, {len(bad)} bad rows; wrote {dest}")
        return 1 if bad else 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
