"""The regression example end to end: train_housing trains FINISHED with regression metrics and
figures, the deploy ships the run with the LOWEST rmse, and the served HousingRegressor/V1 answers
prices as floats (JSON integers accepted for doubles) and refuses a district it was not trained on
(400 naming record, column and allowed values; listed as an enum at /docs.json and a <select> on the
try-it page): the class directly, its HTTP gate in process, and a real `bentoml serve`."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from conftest import PYTHON, ROOT, runs, train
from deploy_support import bentoml_home, deploy_env, free_port, post, running, wait_http

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy" / "HousingRegressor" / "V1"
RECORD = {"area_m2": 100, "rooms": 3, "age_years": 20, "distance_km": 5, "district": "north"}  # integers
DISTRICTS = ["east", "north", "south", "west"]
UNSEEN = ["atlantis", "North", ""]  # never in training: a typo, another case, nothing


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
        for value in UNSEEN:
            with pytest.raises(
                ValueError, match=f"record 1: column 'district' is '{value}', a value the model"
            ):
                asyncio.run(instance.predict([RECORD, {**RECORD, "district": value}]))
        fields = service.HousingRegressor.apis["predict"].input_spec.model_json_schema()
    assert [type(p) for p in answer["predictions"]] == [float, float]
    assert 50_000 < answer["predictions"][1] < answer["predictions"][0] < 600_000
    assert fields["$defs"]["Record"]["properties"]["district"]["enum"] == DISTRICTS


def test_the_categories_come_from_the_run_and_unseen_ones_can_be_allowed(env):
    import bentoml

    from mlrepo.ship import records

    with bentoml_home(env["BENTOML_HOME"]):
        stored = bentoml.models.get(env["MODEL_TAG"])
    categories = stored.info.metadata["categories"]
    assert categories == {"district": DISTRICTS}
    schema = [tuple(p) for p in stored.info.metadata["input_schema"]]
    problem = records.record_problem({**RECORD, "district": "atlantis"}, schema, categories)
    assert (
        problem.startswith("column 'district' is 'atlantis'")
        and "'east', 'north', 'south', 'west'" in problem
    )
    assert records.record_problem(RECORD, schema, categories) is None
    assert records.record_problem({**RECORD, "district": "atlantis"}, schema, None) is None  # allowed


def test_the_http_gate_answers_an_unseen_category_400_and_the_page_has_a_select(env):
    import asyncio

    from mlrepo.ship import serving

    schema = [("area_m2", "double"), ("rooms", "double"), ("age_years", "double"), ("distance_km", "double"),
              ("district", "string")]  # fmt: skip
    contract = (schema, RECORD, 10, {"district": DISTRICTS})

    async def app(scope, receive, send):  # the model's side: reached only by a valid request
        await serving._answer(send, 200, b'{"predictions": [1.0]}')

    gate = serving.Gate(app, {"/predict": contract}, title="HousingRegressor")

    def call(method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path,
                 "headers": [(b"content-type", b"application/json")]}  # fmt: skip
        asyncio.run(gate(scope, receive, send))
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    assert call("POST", "/predict", json.dumps({"records": [RECORD]}).encode())[0] == 200
    status, text = call(
        "POST", "/predict", json.dumps({"records": [RECORD, {**RECORD, "district": "x"}]}).encode()
    )
    error = json.loads(text)["error"]
    assert status == 400 and error.startswith("record 1: column 'district' is 'x'") and "'west'" in error
    status, page = call("GET", "/")
    assert status == 200 and b'<select name="district"' in page and b"<option selected>north</option>" in page


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
        url = f"http://127.0.0.1:{port}"
        status, text = post(f"{url}/predict", json.dumps({"records": [RECORD]}).encode())
        refused = [post(f"{url}/predict", json.dumps({"records": [{**RECORD, "district": v}]}).encode())
                   for v in UNSEEN]  # fmt: skip
        with urllib.request.urlopen(f"{url}/docs.json", timeout=10) as response:
            spec = json.load(response)
        with urllib.request.urlopen(f"{url}/", timeout=10) as response:
            page = response.read().decode()
    assert status == 200, text
    (price,) = json.loads(text)["predictions"]
    assert isinstance(price, float) and 50_000 < price < 600_000
    for (code, body), value in zip(refused, UNSEEN, strict=True):
        assert code == 400, body
        assert json.loads(body)["error"].startswith(f"record 0: column 'district' is '{value}'")
    assert spec["components"]["schemas"]["Record"]["properties"]["district"]["enum"] == DISTRICTS
    assert '<select name="district"' in page and "<option>west</option>" in page
    assert "<option selected>east</option>" in page  # the sample's first row, selected


def test_make_fuzz_finds_nothing_on_the_regression_contract(env):
    """Schemathesis from the served document (district an enum, numbers bounded): no failure."""
    command = [PYTHON, "-m", "mlrepo", "fuzz", "--model", "HousingRegressor/V1", "--examples", "30"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    summary = [line for line in done.stdout.splitlines() if line.startswith("fuzz ")]
    print(*summary[-1:])
    assert done.returncode == 0 and summary and " 0 failures" in summary[-1], done.stdout[-5000:]
