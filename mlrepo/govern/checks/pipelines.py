"""Rules on pipeline configs (conf/pipeline/): their names, their header, the code and model they name."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlrepo.govern.checks.base import Repo, Rule, Violation, line_of

PIPELINE_NAME = Rule(
    "PIPELINE-NAME",
    "conf/pipeline/<name>.yaml is named <task>_<name> (a reserved task) or "
    "<model&version>-<dataset&version>, and its `pipeline.name` is that name (the MLflow experiment)",
    "rename it, e.g. train_iris, estudy_iris, dataset_digits or cnnv1-digitsv1 (tasks: "
    "conf/governance.yaml), and set `pipeline.name` to the file's name",
)
PIPELINE_CONFIG = Rule(
    "PIPELINE-CONFIG",
    "a pipeline config starts with `# @package _global_` and names an existing train/<code>/pipeline.py "
    "(`pipeline.code`; a study may name a notebook instead, `pipeline.notebook`) and models/<Model> "
    "(`pipeline.model`; dataset_ and estudy_ pipelines need none); "
    "an estudy_ config names what it studies (`study.of`)",
    "fix the header or `pipeline.code` / `pipeline.model` so that they name folders that exist; give a "
    "study `study.of: <run id> | models:/<name>@<alias> | best:<pipeline>`",
)
RULES = (PIPELINE_NAME, PIPELINE_CONFIG)
"""The rules of this family."""

PAIR = re.compile(r"^[a-z][a-z0-9]*v[0-9]+-[a-z][a-z0-9]*v[0-9]+$")
"""`<model&version>-<dataset&version>`, e.g. `cnnv1-digitsv1`."""
NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def name_ok(stem: str, tasks: list[str]) -> bool:
    """Whether a pipeline config's name follows the naming rule."""
    if PAIR.match(stem):
        return True
    task, sep, rest = stem.partition("_")
    return bool(sep) and task in tasks and bool(NAME.match(rest))


def pipeline_configs(repo: Repo) -> list[str]:
    """The pipeline config files of the tree (conf/pipeline/*.yaml)."""
    return [
        p for p in repo.files if p.startswith("conf/pipeline/") and p.endswith(".yaml") and p.count("/") == 2
    ]


def check(repo: Repo) -> Iterator[Violation]:
    """Check every pipeline config's name, header and the code and model it names."""
    tasks = list(repo.settings["reserved_tasks"])
    for path in pipeline_configs(repo):
        stem = path.rsplit("/", 1)[1][: -len(".yaml")]
        if not name_ok(stem, tasks):
            yield Violation(
                path,
                1,
                PIPELINE_NAME.id,
                f"`{stem}` is neither <task>_<name> with a task in "
                f"{tasks} nor <model&version>-<dataset&version>",
            )
        text = repo.text(path)
        if not text.lstrip().startswith("# @package _global_"):
            yield Violation(path, 1, PIPELINE_CONFIG.id, "the first line must be `# @package _global_`")
        data = repo.yaml(path)
        if data is None:
            continue
        section = data.get("pipeline") if isinstance(data, dict) else None
        section = section if isinstance(section, dict) else {}
        if section.get("name") is not None and str(section.get("name")) != stem:
            yield Violation(
                path,
                line_of(text, "name:"),
                PIPELINE_NAME.id,
                f"`pipeline.name: {section.get('name')}` differs from the file's name `{stem}` "
                "(it names the MLflow experiment)",
            )
        code, notebook = section.get("code"), section.get("notebook")
        if notebook and not code:  # a study that is a notebook (mlrepo/run/notebook.py)
            if stem.partition("_")[0] not in ("estudy", "study"):
                yield Violation(path, line_of(text, "notebook:"), PIPELINE_CONFIG.id,
                                "only an estudy_/study_ pipeline may name a `pipeline.notebook`")  # fmt: skip
            elif str(notebook) not in repo.fileset or not str(notebook).endswith(".ipynb"):
                yield Violation(path, line_of(text, "notebook:"), PIPELINE_CONFIG.id,
                                f"`pipeline.notebook: {notebook}` but there is no such notebook")  # fmt: skip
        elif not code:
            yield Violation(path, 1, PIPELINE_CONFIG.id, "no `pipeline.code` naming train/<code>/pipeline.py")
        elif f"train/{code}/pipeline.py" not in repo.fileset:
            yield Violation(
                path,
                line_of(text, "code:"),
                PIPELINE_CONFIG.id,
                f"`pipeline.code: {code}` but train/{code}/pipeline.py does not exist",
            )
        study = data.get("study") if isinstance(data, dict) else None
        names_target = isinstance(study, dict) and bool(study.get("of"))
        if stem.partition("_")[0] in ("estudy", "study") and not names_target:
            yield Violation(
                path,
                1,
                PIPELINE_CONFIG.id,
                "a study names what it studies: set `study.of` (a run id, models:/<name>@<alias>, "
                "or best:<pipeline>)",
            )
        model = section.get("model")
        if model and f"models/{model}/__init__.py" not in repo.fileset:
            yield Violation(
                path,
                line_of(text, "model:"),
                PIPELINE_CONFIG.id,
                f"`pipeline.model: {model}` but models/{model}/ does not exist",
            )
