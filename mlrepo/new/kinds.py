"""The `new` command table: one entry per kind, each a template folder plus one small function.

A kind's function checks the names, builds the template's context and returns a `Scaffold`
(what to render, what to append to, the next steps to print). Adding a kind (`deploy`) is a
folder `templates/deploy/` and one function registered with `@kind(...)`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrepo.errors import UserError
from mlrepo.new import names
from mlrepo.new.render import Plan, render


@dataclass
class Scaffold:
    """What one `new <kind>` renders.

    Attributes:
        context: the values the kind's templates name.
        next_steps: the few lines printed after writing (which function to fill, which command).
        append: rendered paths added to the end of an existing file instead of created (dvc.yaml).
        patch: called on the rendered files before they are written (the class diagram).
        executable: rendered paths to mark executable (a deploy's `ecr.sh`).
        notes: lines printed before the files written (what was inferred, and how to choose otherwise).
    """

    context: dict[str, Any]
    next_steps: list[str]
    append: set[str] = field(default_factory=set)
    patch: Callable[[dict[str, bytes]], None] | None = None
    executable: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kind:
    """One `python -m mlrepo new <kind>` command.

    Attributes:
        name: the kind, also the template folder's name.
        help: one line for `--help`.
        arguments: `(flags, argparse keyword arguments)` of its command line.
        scaffold: `(parsed arguments, repository root) -> Scaffold`.
    """

    name: str
    help: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    scaffold: Callable[[argparse.Namespace, Path], Scaffold]

    def plan(self, args: argparse.Namespace, root: Path) -> tuple[Plan, Scaffold]:
        """Render this kind's templates for `args` into a `Plan` (nothing written yet)."""
        scaffold = self.scaffold(args, root)
        files = render(self.name, scaffold.context)
        if scaffold.patch is not None:
            scaffold.patch(files)
        plan = Plan(executable=set(scaffold.executable))
        for path, content in files.items():
            (plan.append if path in scaffold.append else plan.create)[path] = content
        return plan, scaffold


KINDS: dict[str, Kind] = {}
"""Every kind, by name, in the order `--help` lists them."""


def kind(name: str, help: str, *arguments: tuple[tuple[str, ...], dict[str, Any]]):
    """Register the decorated `(args, root) -> Scaffold` function as the kind `name`."""

    def register(function: Callable[[argparse.Namespace, Path], Scaffold]):
        KINDS[name] = Kind(name, help, arguments, function)
        return function

    return register


def _arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


@kind("dataset", "datasets/<name>/: dataset.py (fill load_frame), common.py", _arg("name", help="e.g. wine"))
def dataset(args: argparse.Namespace, root: Path) -> Scaffold:
    """`new dataset NAME`: a dataset whose `load_frame()` the author fills."""
    name = names.dataset(args.name)
    return Scaffold(
        {"name": name},
        [
            f"fill load_frame() in datasets/{name}/dataset.py and the docstring of its __init__.py",
            f"then: python -m mlrepo new pipeline <model&version>-{name}v1 --model <Model> --dataset {name}",
            f"sketch in datasets/{name}/notebooks/explore.ipynb (make lab)",
        ],
    )


@kind(
    "model",
    "models/<ModelName>/: documented __init__.py with its diagram, model.py (fill build()), common.py",
    _arg("name", help="CamelCase, e.g. WineForest"),
    _arg(
        "--dataset",
        default=None,
        help="the dataset its starter notebook fits it on (default: the first dataset made by `new dataset`)",
    ),  # fmt: skip
)
def model(args: argparse.Namespace, root: Path) -> Scaffold:
    """`new model NAME [--dataset D]`: a documented model whose `build()` the author fills; its
    diagram drawn; `notebooks/explore.ipynb` fits it on D (a dataset with `build_table`; without
    one, no notebook: the next steps say so)."""
    name = names.model(args.name)
    dataset = notebook_dataset(root, getattr(args, "dataset", None))
    notebook = f"models/{name}/notebooks/explore.ipynb"

    def draw(files: dict[str, bytes]) -> None:
        from mlrepo.govern import diagrams

        init, source = f"models/{name}/__init__.py", files[f"models/{name}/model.py"].decode()
        drawn = diagrams.update_source(files[init].decode(), diagrams.specs_from_source(source))
        files[init] = drawn.encode()
        if dataset is None:
            files.pop(notebook, None)

    return Scaffold(
        {"name": name, "dataset": dataset or ""},
        [
            f"fill build() in models/{name}/model.py and the <describe ...> sections of its __init__.py",
            "after changing the constructor or methods: make diagrams",
            f"then: python -m mlrepo new pipeline <model&v>-<dataset&v> --model {name} --dataset <d>",
            f"sketch in {notebook} (make lab)"
            if dataset
            else f"no dataset made by `new dataset` yet, so no {notebook}: copy IrisClassifier's notebooks/",
        ],
        patch=draw,
    )


def notebook_dataset(root: Path, name: str | None) -> str | None:
    """The dataset a new model's starter notebook fits it on: `name`, else the first dataset
    (by name) whose `dataset.py` has `build_table` (the function `new dataset` scaffolds).

    Raises:
        UserError: `name` is given but `datasets/<name>/dataset.py` does not exist.
    """
    if name is not None:
        name = names.dataset(name)
        if not (root / "datasets" / name / "dataset.py").is_file():
            raise UserError(f"datasets/{name}/ does not exist: run python -m mlrepo new dataset {name}")
        return name
    for path in sorted((root / "datasets").glob("*/dataset.py")):
        if "def build_table(" in path.read_text(errors="replace"):
            return path.parent.name
    return None


@kind(
    "pipeline",
    "conf/pipeline/<name>.yaml and train/<code>/: a training pipeline (5 steps, its table's DVC stage), "
    "a dataset_ pipeline (a table, its DVC stage) or an estudy_ pipeline (a report)",
    _arg("name", help="<model&version>-<dataset&version> (rfv1-winev1) or <task>_<name>"),
    _arg("--model", default=None, help="an existing models/<Model>/ (a training pipeline's)"),
    _arg("--dataset", default=None, help="an existing datasets/<name>/ (training and dataset_ pipelines)"),
    _arg("--table", default=None, help="the table's name (default: <model-name>_dataset_<version>)"),
    _arg("--task", default=None, choices=("classification", "regression"),
         help="what the model predicts (default: inferred from the dataset's target: float -> regression)"),
    _arg("--of", default=None, help="estudy_: the training pipeline it studies (default: --model's)"),
)  # fmt: skip
def pipeline(args: argparse.Namespace, root: Path) -> Scaffold:
    """`new pipeline NAME ...`: config and code for the task of its name, runnable as generated.

    `train_*` / `<model&version>-<dataset&version>` (needs `--model`, `--dataset`): a training
    pipeline for the task kind (`--task`, else inferred and said), its `model:` block the model's
    own arguments, and the DVC stage of its table. `dataset_*` (needs `--dataset`): a pipeline
    returning the dataset's table, whose DVC stage runs it. `estudy_*` (needs `--of` or `--model`):
    a study of the best run of a pipeline scaffolded by this command.
    """
    from mlrepo.govern.checks.base import Repo
    from mlrepo.new import inference
    from mlrepo.run.tasks import STUDY_TASKS, task_of

    tasks = list(Repo.open(root).settings["reserved_tasks"])
    name = names.pipeline(args.name, tasks)
    task = task_of(name)
    product = "table" if task == "dataset" else "report" if task in STUDY_TASKS else "model"
    notes: list[str] = []
    studied = studied_code = ""
    if product == "report":
        studied = args.of or (_pipeline_of(root, names.model(args.model)) if args.model else "")
        if not studied:
            raise UserError(f"{name} is a study: pass --of <the training pipeline it studies> (or --model).")
        config = _pipeline_config(root, studied)
        model_name, dataset_name = config["pipeline"].get("model", ""), config["data"]["dataset"]
        studied_code = config["pipeline"]["code"]
        if (
            not config["data"].get("table")
            or not (root / "train" / studied_code / "steps" / "split.py").is_file()
        ):
            raise UserError(
                f"{studied} does not read a table through the steps `new pipeline` writes "
                f"(train/{studied_code}/steps/, data.table): a generated study needs them; write the "
                "study from estudy_iris instead."
            )
        table, version = config["data"].get("table", ""), str(config["data"]["version"])
        kind = config["pipeline"].get("task") or "classification"
    else:
        if not args.dataset or (product == "model" and not args.model):
            needed = "--dataset" if product == "table" else "--model and --dataset"
            raise UserError(f"new pipeline {name} needs {needed}.")
        model_name = names.model(args.model) if args.model else ""
        dataset_name = names.dataset(args.dataset)
        if product == "model" and not (root / "models" / model_name / "model.py").is_file():
            raise UserError(
                f"models/{model_name}/ does not exist: run python -m mlrepo new model {model_name}"
            )
        if not (root / "datasets" / dataset_name / "dataset.py").is_file():
            raise UserError(
                f"datasets/{dataset_name}/ does not exist: run python -m mlrepo new dataset {dataset_name}"
            )
        table, version = names.table_of(name, dataset_name)
        if args.table:
            table, version = names.table(args.table), args.table.rsplit("_", 1)[1]
        kind = args.task or ""
        if product == "model" and not kind:
            kind, why = inference.infer_kind(root, dataset_name)
            notes.append(why)
        elif product == "model":
            notes.append(f"task: {kind} (--task)")
    dvc = root / "dvc.yaml"
    stages = _dvc_stages(dvc) if product != "report" else {}
    if table in stages:
        raise UserError(f"dvc.yaml already has a stage {table}: pass --table <another table name>, or remove "
                        f"that stage (and its dvc.lock entry) first.")  # fmt: skip
    arguments = inference.model_arguments(root, model_name) if product == "model" else []
    code = names.code_of(name) if product == "model" else name  # estudy_x, dataset_x: as estudy_iris
    context = {"name": name, "code": code, "model": model_name, "dataset": dataset_name,
               "table": table, "version": version, "new_file": not dvc.exists(), "product": product,
               "kind": kind, "arguments": arguments, "studied": studied,
               "studied_code": studied_code}  # fmt: skip

    def keep_for_task(files: dict[str, bytes]) -> None:
        for path in list(files):
            if product != "model" and path.startswith(f"train/{code}/steps/"):
                del files[path]
            elif product == "report" and path == "dvc.yaml":
                del files[path]

    if product == "table":
        steps = [f"fill the TODO in train/{code}/pipeline.py's docstring",
                 f"make data                                      # runs it: data/{table}.parquet, dvc.lock",
                 "make check, then commit everything with dvc.lock"]  # fmt: skip
    elif product == "report":
        steps = [f"fill the TODO in train/{code}/pipeline.py's docstring (and study what you want to know)",
                 f"python -m train pipeline={name}            # studies the best {studied} run",
                 "make check, then commit"]  # fmt: skip
    else:
        first = arguments[0][0] if arguments else "<argument>"
        steps = [
            f"python -m train pipeline={name}            # trains once load_frame() and build() are written",
            f"make data                                      # materializes data/{table}.parquet (DVC)",
            f"python -m train -m pipeline={name} model.{first}=a,b,c launcher=local   # a sweep",
            "make check, then commit everything with dvc.lock",
        ]
    return Scaffold(context, steps, append={"dvc.yaml"}, patch=keep_for_task, notes=notes)


def _pipeline_config(root: Path, pipeline: str) -> dict[str, Any]:
    """The YAML of `conf/pipeline/<pipeline>.yaml`, as written (no composition).

    Raises:
        UserError: there is no such config, or it lacks `pipeline` and `data`.
    """
    import yaml

    path = root / "conf" / "pipeline" / f"{pipeline}.yaml"
    if not path.is_file():
        raise UserError(f"There is no pipeline {pipeline} (conf/pipeline/{pipeline}.yaml) to study.")
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config.get("pipeline"), dict) or not isinstance(config.get("data"), dict):
        raise UserError(f"conf/pipeline/{pipeline}.yaml has no pipeline: and data: blocks to study it by.")
    return config


def _dvc_stages(path: Path) -> dict[str, Any]:
    import yaml

    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"dvc.yaml is not valid YAML ({exc}); fix it before adding a stage.") from exc
    stages = loaded.get("stages") if isinstance(loaded, dict) else None
    if path.read_text().strip() and not isinstance(stages, dict):
        raise UserError("dvc.yaml has no `stages:` mapping to add a stage to; fix it first.")
    last_key = [line for line in path.read_text().splitlines() if line[:1].isalpha()][-1:]
    if last_key and not last_key[0].startswith("stages:"):
        raise UserError("dvc.yaml's `stages:` must be its last top-level key to add a stage at its end.")
    return stages or {}


SERVING_PINS = ("bentoml", "mlflow-skinny", "scikit-learn", "skops", "pandas", "numpy")
"""The packages a scikit-learn deploy's image pins, at their Pipfile.lock versions."""


@kind(
    "deploy",
    "deploy/<Model>/V<n>/: a service that serves the best run of the model's pipeline",
    _arg("model", help="an existing models/<Model>/"),
    _arg("--version", type=int, default=None, help="n of V<n> (default: the next free version)"),
    _arg("--pipeline", default=None, help="the pipeline it serves (default: the model's only one)"),
    _arg("--branch", default="development", help="the super-branch whose store holds the runs"),
)
def deploy(args: argparse.Namespace, root: Path) -> Scaffold:
    """`new deploy MODEL`: a deploy version folder whose sample rows are the best run's input example."""
    import json
    import re

    model_name = names.model(args.model)
    if not (root / "models" / model_name / "model.py").is_file():
        raise UserError(f"models/{model_name}/ does not exist: run python -m mlrepo new model {model_name}")
    existing = sorted(int(p.name[1:]) for p in (root / "deploy" / model_name).glob("V[0-9]*") if p.is_dir())
    version = args.version if args.version is not None else (existing[-1] + 1 if existing else 1)
    names.deploy_version(f"V{version}")
    pipeline = args.pipeline or _pipeline_of(root, model_name)
    lock = json.loads((root / "Pipfile.lock").read_text())["default"]
    pins = [f"{p}{lock[p]['version']}" for p in SERVING_PINS if p in lock]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", model_name).lower()
    context = {"model": model_name, "version": version, "pipeline": pipeline, "pins": pins,
               "model_name": snake if version == 1 else f"{snake}_v{version}",
               "sample_csv": _sample_rows(pipeline, args.branch)}  # fmt: skip
    folder = f"deploy/{model_name}/V{version}"
    return Scaffold(
        context,
        [
            f"make bento-model MODEL={model_name}/V{version}   # the best run of {pipeline} -> BentoML",
            f"make serve MODEL={model_name}/V{version}         # http://127.0.0.1:3000: try it at /",
            f"a new output contract? an infer= hook in {folder}/service.py (docs/guides/deploy.md)",
        ],
        executable={f"{folder}/ecr.sh"},
    )


def _pipeline_of(root: Path, model_name: str) -> str:
    """The one pipeline config whose `model:` names `model_name`."""
    import yaml

    found = []
    for path in sorted((root / "conf" / "pipeline").glob("*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        if isinstance(config, dict) and (config.get("pipeline") or {}).get("model") == model_name:
            found.append(path.stem)
    if len(found) != 1:
        which = f"pipelines {', '.join(found)}" if found else "no pipeline config"
        raise UserError(f"{model_name} has {which} naming it: pass --pipeline <name>.")
    return found[0]


def _sample_rows(pipeline: str, branch: str) -> str:
    """The input example of the pipeline's best FINISHED run, as CSV (the deploy's sample rows)."""
    import mlflow

    from mlrepo.ship import deploy as shipping

    run = shipping.choose_run(pipeline, branch)  # UserError with the command to train one
    with shipping.tracking_store(run.uri):
        local = mlflow.artifacts.download_artifacts(f"runs:/{run.run_id}/{shipping.MODEL_ARTIFACT}")
    example = mlflow.models.Model.load(local).load_input_example(local)
    if example is None or not hasattr(example, "to_csv"):
        raise UserError(
            f"Run {run.run_id} of {pipeline} logged no table-shaped input example; write the deploy's "
            "sample-input.csv by hand (a header and a few real rows)."
        )
    return example.head(6).to_csv(index=False)
