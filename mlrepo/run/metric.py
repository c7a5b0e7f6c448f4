"""A pipeline's main metric and its direction: the one place that says which run is "best".

A pipeline config declares its task kind and its metric once:

    pipeline:
      task: regression               # or classification (binary and multi-class alike)
      metric: {name: rmse, goal: minimize}

`metric: accuracy` (a plain name) still works: its goal is the default for that name. The
defaults: a name that is, or ends in, a loss or an error (`rmse`, `mae`, `mse`, `log_loss`,
`loss`, `val_loss`, `test_rmse`, `error`, ...) is minimized; anything else (`accuracy`, `f1`,
`r2`, `auc`, `test_accuracy`, scikit-learn's negated `neg_...` losses) is maximized. Say
`goal:` when a name could read either way.

Every chooser (the deploy's run choice, `best:<pipeline>`, `promote`, sweep summaries and
cards, `train runs`) calls `best` or `better` here. Ties keep the newest run: callers pass runs
newest first and `best` keeps the first of equals.

The runner tags each run with `metric.name` and `metric.goal`; `of_run` reads those tags, and
falls back on the params of older runs (`pipeline.metric` as a name, or `pipeline.metric.name`
and `pipeline.metric.goal`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mlrepo.errors import UserError

MAXIMIZE, MINIMIZE = "maximize", "minimize"
GOALS = (MAXIMIZE, MINIMIZE)
TASKS = ("classification", "regression")
"""The task kinds a training pipeline declares as `pipeline.task`."""
TAG_NAME, TAG_GOAL = "metric.name", "metric.goal"
"""The run tags holding the main metric's name and goal."""
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}
"""The main metric of each task kind when the config names none."""

_LOWER_IS_BETTER = ("rmse", "mae", "mse", "msle", "rmsle", "mape", "loss", "error", "deviance", "brier")
_PREFIXES = ("test_", "val_", "valid_", "validation_", "train_", "eval_", "cv_")

T = TypeVar("T")


@dataclass(frozen=True)
class Metric:
    """A main metric: its name and whether higher or lower values are better.

    Attributes:
        name: the metric's key as the run logs it (`rmse`, `accuracy`).
        goal: `maximize` or `minimize`.
    """

    name: str
    goal: str

    def __str__(self) -> str:
        """`rmse (minimize)`."""
        return f"{self.name} ({self.goal})"


def default_goal(name: str) -> str:
    """The goal of a metric named `name` when the config does not say (see the module docstring)."""
    base = name.lower()
    if base.startswith("neg_"):  # scikit-learn's negated losses (neg_mean_squared_error): higher is better
        return MAXIMIZE
    for prefix in _PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
    return MINIMIZE if any(base.endswith(w) for w in _LOWER_IS_BETTER) else MAXIMIZE


def parse(value: Any, where: str = "pipeline.metric", task: str | None = None) -> Metric:
    """The `Metric` a config value declares: a name, or a mapping `{name: ..., goal: ...}`.

    Args:
        value: the config's `pipeline.metric` (a string, a mapping, or None).
        where: the config key, for the message.
        task: the pipeline's task kind; with no metric named, its default metric is used.

    Raises:
        UserError: a mapping without a name, or an unknown goal.
    """
    if value is None or value == "":
        if task in DEFAULT_METRIC:
            name = DEFAULT_METRIC[task]
            return Metric(name, default_goal(name))
        raise UserError(
            f"{where} is not set: name the metric that ranks runs, e.g. {{name: rmse, goal: minimize}}."
        )
    if isinstance(value, str):
        return Metric(value, default_goal(value))
    if isinstance(value, Mapping):
        name = value.get("name")
        if not name:
            raise UserError(f"{where} has no `name`: write {where}: {{name: rmse, goal: minimize}}.")
        goal = str(value.get("goal") or default_goal(str(name))).lower()
        if goal not in GOALS:
            raise UserError(f"{where}.goal is '{goal}'; it must be maximize or minimize.")
        return Metric(str(name), goal)
    raise UserError(f"{where} must be a metric name or {{name: ..., goal: ...}}, not {type(value).__name__}.")


def of_config(cfg: Any) -> Metric:
    """The main metric of a composed config (`pipeline.metric`, `pipeline.task`).

    Raises:
        UserError: see `parse`.
    """
    from omegaconf import DictConfig, OmegaConf

    value = OmegaConf.select(cfg, "pipeline.metric")
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    return parse(value, task=OmegaConf.select(cfg, "pipeline.task"))


def of_run(params: Mapping[str, str], tags: Mapping[str, str] | None = None) -> Metric | None:
    """The main metric a run was ranked by, from its tags or, for older runs, its params.

    Returns:
        The metric, or None when the run names none (a run of a pipeline without a metric).
    """
    tags = tags or {}
    if tags.get(TAG_NAME):
        goal = tags.get(TAG_GOAL) or default_goal(tags[TAG_NAME])
        return Metric(tags[TAG_NAME], goal if goal in GOALS else default_goal(tags[TAG_NAME]))
    if params.get("pipeline.metric.name"):
        name = params["pipeline.metric.name"]
        goal = str(params.get("pipeline.metric.goal") or "").lower()
        return Metric(name, goal if goal in GOALS else default_goal(name))
    if params.get("pipeline.metric"):
        return Metric(params["pipeline.metric"], default_goal(params["pipeline.metric"]))
    return None


def better(value: float | None, than: float | None, goal: str) -> bool:
    """Whether `value` is strictly better than `than` under `goal` (a missing value is never better;
    anything is better than a missing one)."""
    if value is None:
        return False
    if than is None:
        return True
    return value < than if goal == MINIMIZE else value > than


def best(items: Iterable[T], value: Callable[[T], float | None], goal: str) -> T | None:
    """The best of `items` by `value` under `goal`; the first of equals wins (pass newest first).

    Items whose value is None are skipped. Returns None when none has a value.
    """
    chosen, chosen_value = None, None
    for item in items:
        found = value(item)
        if found is None:
            continue
        if chosen is None or better(found, chosen_value, goal):
            chosen, chosen_value = item, found
    return chosen


def ranked(items: Iterable[T], value: Callable[[T], float | None], goal: str) -> list[T]:
    """`items` best first under `goal` (stable: equals keep their order); those without a value last."""
    items = list(items)
    scored = [i for i in items if value(i) is not None]
    scored.sort(key=lambda i: value(i), reverse=goal == MAXIMIZE)  # type: ignore[arg-type, return-value]
    return scored + [i for i in items if value(i) is None]
