"""One place that says whether a name follows the repository's naming rules (for scaffolding and tools).

`problem("model", "iris_net")` returns why the name is refused, or None when it is good. The
rules are the checker's own (`structure`, `pipelines`, `data`), so a scaffold and the gates agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlrepo.govern.checks.base import DEFAULTS
from mlrepo.govern.checks.data import TABLE
from mlrepo.govern.checks.pipelines import name_ok
from mlrepo.govern.checks.structure import CAMEL, DATASET, VERSION

KINDS = ("dataset", "model", "pipeline", "deploy", "table")
"""The kinds of names `problem` judges (`deploy` is a version folder: V1, V2...)."""


def problem(kind: str, name: str, tasks: Sequence[str] | None = None) -> str | None:
    """Why `name` is not a good name of `kind`; None when it is.

    Args:
        kind: one of `KINDS`.
        name: the name to judge.
        tasks: the reserved pipeline tasks (default: the repository's conf/governance.yaml).

    Returns:
        One sentence saying what the rule wants, or None.

    Raises:
        ValueError: `kind` is not one of `KINDS`.
    """
    if kind == "dataset":
        return None if DATASET.match(name) else f"`{name}`: a dataset name is snake_case (iris, wine_quality)"
    if kind == "model":
        ok = CAMEL.match(name) and any(c.islower() for c in name)
        return None if ok else f"`{name}`: a model name is CamelCase (IrisClassifier, DigitsCNN)"
    if kind == "deploy":
        return None if VERSION.match(name) else f"`{name}`: a deploy version is V<n> (V1, V2; no V0, V01)"
    if kind == "table":
        return None if TABLE.match(name) else f"`{name}`: a table is <model-name>_dataset_<version>"
    if kind == "pipeline":
        tasks = list(tasks) if tasks is not None else _tasks()
        if name_ok(name, tasks):
            return None
        return (
            f"`{name}`: a pipeline is <task>_<name> with a task in {tasks} "
            "or <model&version>-<dataset&version> (cnnv1-digitsv1)"
        )
    raise ValueError(f"unknown kind of name {kind!r}: one of {', '.join(KINDS)}")


def _tasks() -> list[str]:
    from mlrepo import ROOT
    from mlrepo.govern.checks.base import Repo

    return list(Repo.open(ROOT).settings.get("reserved_tasks", DEFAULTS["reserved_tasks"]))
