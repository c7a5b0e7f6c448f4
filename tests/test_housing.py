"""The regression example end to end: train_housing trains FINISHED with regression metrics and
figures, the deploy ships the run with the LOWEST rmse, and the served HousingRegressor/V1 answers
prices as floats (JSON integers accepted for doubles): the class directly and a real `bentoml serve`."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PYTHON, ROOT, runs, train
from deploy_support import bentoml_home, deploy_env, free_port, post, running, wait_http

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy" / "HousingRegressor" / "V1"
RECORD = {"area_m2": 100, "rooms": 3, "age_years": 20, "distance_km": 5, "district": "north"}  # integers


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Two train_housing runs (a weak and a good one) imported: the deploy takes the lowest rmse."""
    tmp = tmp_path_factory.mktemp("housing")
    env = deploy_env(tmp, f"sqlite:///{tmp / 'mlflow.db'}")
    for overrides in ([], ["model.max_iter=3"]):  # the good run first: the newest, weak one is not the best
        done = train("pipeline=train_housing", *overrides, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
    out = tmp / "model.env"
    imported = subprocess.run([PYTHON, str(DEPLOY / "create_bento_model.py"), "--output-env", str(out)],
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    env.update(line.split("=", 1) for line in out.read_text().splitlines())
    return env


def test_the_regression_runs_log_metrics_figures_and_their_direction(env):
    from mlflow.tracking import MlflowClient

    found = runs(env["MLFLOW_TRACKING_URI"], "train_housing")
    assert len(found) == 2 and all(r.info.status == "FINISHED" for r in found)
    for run in found:
        assert {"rmse", "mae", "r2"} <= set(run.data.metrics)
        assert run.data.tags["metric.name"] == "rmse" and run.data.tags["metric.goal"] == "minimize"
        files = {
            a.path for a in MlflowClient(env["MLFLOW_TRACKING_URI"]).list_artifacts(run.info.run_id, "plots")
        }
        assert {"plots/predicted_vs_actual.png", "plots/residuals.png"} <= files
    best = min(found, key=lambda r: r.data.metrics["rmse"])
    assert env["RUN_ID"] == best.info.run_id  # the lowest rmse, not the highest
    assert best.data.metrics["rmse"] < max(r.data.metrics["rmse"] for r in found)


def test_the_class_directly_answers_floats(env):
    import importlib
    import sys

    with bentoml_home(env["BENTOML_HOME"]):
        sys.path.insert(0, str(DEPLOY))
        try:
            service = importlib.import_module("service")
        finally:
            sys.path.remove(str(DEPLOY))
            for name in ("service", "common"):
                sys.modules.pop(name, None)
        instance = service.HousingRegressor()
        import asyncio

        answer = asyncio.run(instance.predict([RECORD, {**RECORD, "area_m2": 50.5}]))
    assert [type(p) for p in answer["predictions"]] == [float, float]
    assert 50_000 < answer["predictions"][1] < answer["predictions"][0] < 600_000


def test_bentoml_serve_answers_a_record_with_json_integers(env, tmp_path):
    port = free_port()
    args = [
        PYTHON,
        "-m",
        "mlrepo.ship.deploy",
        "serve",
        "--model",
        "HousingRegressor/V1",
        "--port",
        str(port),
    ]
    with running(args, tmp_path / "serve.log", env=env, cwd=ROOT) as proc:
        wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
        status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": [RECORD]}).encode())
    assert status == 200, text
    (price,) = json.loads(text)["predictions"]
    assert isinstance(price, float) and 50_000 < price < 600_000
