"""The main metric's direction: every "best" (deploy choice, `best:<pipeline>`, promote, sweep
cards) picks the lowest value of a minimized metric and the highest of a maximized one, the
newest of equals. Against a real SQLite MLflow store."""

from __future__ import annotations

import pytest

from mlrepo.errors import UserError
from mlrepo.run import metric


@pytest.mark.parametrize(
    ("name", "goal"),
    [("rmse", "minimize"), ("mae", "minimize"), ("mse", "minimize"), ("log_loss", "minimize"),
     ("loss", "minimize"), ("val_loss", "minimize"), ("test_rmse", "minimize"), ("accuracy", "maximize"),
     ("f1", "maximize"), ("f1_macro", "maximize"), ("r2", "maximize"), ("auc", "maximize"),
     ("test_accuracy", "maximize"), ("neg_mean_squared_error", "maximize"), ("max_error", "minimize")],
)  # fmt: skip
def test_well_known_names_have_their_default_goal(name, goal):
    assert metric.default_goal(name) == goal
    assert metric.parse(name) == metric.Metric(name, goal)


def test_a_declared_goal_wins_and_a_bad_one_is_refused():
    assert metric.parse({"name": "score", "goal": "minimize"}).goal == "minimize"
    assert metric.parse({"name": "rmse"}).goal == "minimize"
    assert metric.parse(None, task="regression") == metric.Metric("rmse", "minimize")
    with pytest.raises(UserError, match="maximize or minimize"):
        metric.parse({"name": "rmse", "goal": "lower"})
    with pytest.raises(UserError, match="has no `name`"):
        metric.parse({"goal": "minimize"})


def test_runs_are_read_in_the_old_and_the_new_form():
    assert metric.of_run({"pipeline.metric": "accuracy"}) == metric.Metric("accuracy", "maximize")
    new = {"pipeline.metric.name": "score", "pipeline.metric.goal": "minimize"}
    assert metric.of_run(new) == metric.Metric("score", "minimize")
    tagged = {"metric.name": "rmse", "metric.goal": "minimize"}
    assert metric.of_run({"pipeline.metric": "other"}, tagged) == metric.Metric("rmse", "minimize")
    assert metric.of_run({}) is None


def test_best_follows_the_goal_and_keeps_the_first_of_equals():
    rows = [("new", 2.0), ("old", 1.0), ("older", 1.0), ("none", None), ("top", 3.0)]
    assert metric.best(rows, lambda r: r[1], "minimize")[0] == "old"
    assert metric.best(rows, lambda r: r[1], "maximize")[0] == "top"
    assert [r[0] for r in metric.ranked(rows, lambda r: r[1], "minimize")] == [
        "old",
        "older",
        "new",
        "top",
        "none",
    ]
    assert metric.best([], lambda r: r, "minimize") is None


def _store(tmp_path, pipeline: str, key: str, values: list[tuple[str, float | None]], params: dict):
    """Runs of `pipeline` logged oldest first (the names say which); returns `(uri, {name: run id})`."""
    import time

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment(pipeline)
    ids = {}
    for name, value in values:
        run = client.create_run(experiment, tags={"pipeline": pipeline}, start_time=int(time.time() * 1000))
        for param, text in params.items():
            client.log_param(run.info.run_id, param, text)
        if value is not None:
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id, "FINISHED")
        ids[name] = run.info.run_id
        time.sleep(0.01)
    return uri, ids


RUNS = [("worst", 17306.8), ("best", 9000.0), ("middle", 12000.0), ("tie-newer", 9000.0)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"pipeline.metric.name": "rmse", "pipeline.metric.goal": "minimize"}, "tie-newer"),
     ({"pipeline.metric": "rmse"}, "tie-newer"),  # an older run: the name's default goal
     ({"pipeline.metric.name": "rmse", "pipeline.metric.goal": "maximize"}, "worst")],
)  # fmt: skip
def test_best_pipeline_picks_by_the_goal(tmp_path, params, expected):
    from mlrepo.run import tasks

    uri, ids = _store(tmp_path, "train_prices", "rmse", RUNS, params)
    assert tasks.resolve("best:train_prices", uri) == ids[expected]


def test_best_pipeline_maximizes_accuracy(tmp_path):
    from mlrepo.run import tasks

    values = [("low", 0.5), ("high", 0.9), ("mid", 0.7)]
    uri, ids = _store(tmp_path, "train_iris", "accuracy", values, {"pipeline.metric": "accuracy"})
    assert tasks.resolve("best:train_iris", uri) == ids["high"]


@pytest.mark.parametrize(("goal", "expected"), [("minimize", "tie-newer"), ("maximize", "worst")])
def test_the_deploy_chooses_by_the_goal(tmp_path, monkeypatch, goal, expected):
    from mlrepo.ship import deploy

    uri, ids = _store(tmp_path, "train_prices", "rmse", RUNS, {})
    monkeypatch.setattr(deploy, "pipeline_metric", lambda p, b: (uri, metric.Metric("rmse", goal)))
    chosen = deploy.choose_run("train_prices")
    assert chosen.run_id == ids[expected] and chosen.metric == "rmse"


def test_the_deploy_maximizes_a_real_pipeline_config(tmp_path, monkeypatch):
    from mlrepo.ship import deploy

    uri, ids = _store(tmp_path, "train_iris", "accuracy", [("low", 0.5), ("high", 0.9)], {})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert deploy.choose_run("train_iris").run_id == ids["high"]


def _registered(tmp_path, goal: str, values: list[float]):
    """Production runs of a clean commit, each with a registered model version; `(uri, run ids)`."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("train_prices")
    client.create_registered_model("PriceModel")
    tags = {"pipeline": "train_prices", "branch": "production", "git.dirty": "false", "git.commit": "abc",
            "metric.name": "rmse", "metric.goal": goal}  # fmt: skip
    ids = []
    for value in values:
        run = client.create_run(experiment, tags=tags)
        client.log_metric(run.info.run_id, "rmse", value)
        client.set_terminated(run.info.run_id, "FINISHED")
        client.create_model_version("PriceModel", f"runs:/{run.info.run_id}/model", run.info.run_id)
        ids.append(run.info.run_id)
    return uri, ids


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_promote_refuses_a_worse_run_by_the_goal(tmp_path, monkeypatch, goal):
    from mlrepo.server import promote

    monkeypatch.setenv("USER", "tester")
    uri, (low, high) = _registered(tmp_path, goal, [9000.0, 17306.8])
    first, second = (high, low) if goal == "minimize" else (low, high)  # the worse one first
    assert "version" in promote.promote(uri, first, "champion")
    assert "replacing version" in promote.promote(uri, second, "champion")  # a better one moves it
    with pytest.raises(UserError, match="is worse than champion"):
        promote.promote(uri, first, "champion")  # and the worse one cannot take it back
