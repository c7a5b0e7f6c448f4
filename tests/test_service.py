"""The IrisClassifier V1 service three ways: the class directly, over HTTP in-process (ASGI), and
a real `bentoml serve` process on loopback answering every bad input with a 4xx."""

import asyncio
import importlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PYTHON
from deploy_support import (
    BAD_INPUTS,
    DEPLOY,
    EXPECTED,
    ROWS,
    bentoml_home,
    free_port,
    post,
    running,
    trained_deploy,
    wait_http,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A trained Iris run imported into a throwaway BentoML home."""
    return trained_deploy(tmp_path_factory)


@pytest.fixture(scope="module")
def service(env):
    """The deploy's service.py imported in this process, against the throwaway BentoML home."""
    sys.path.insert(0, str(DEPLOY))
    try:
        with bentoml_home(env["BENTOML_HOME"]):
            yield importlib.import_module("service")
    finally:
        sys.path.remove(str(DEPLOY))
        for name in ("service", "common"):  # generic names: leave nothing behind for other tests
            sys.modules.pop(name, None)


def test_the_class_directly_predicts_and_refuses_bad_records(service):
    instance = service.IrisClassifier()
    answer = asyncio.run(instance.predict(records=ROWS))
    assert answer["predictions"] == EXPECTED
    assert answer["model"].startswith("iris_classifier:") and answer["timestamp"].endswith("+00:00")
    with pytest.raises(ValueError, match="record 1: unexpected column"):
        asyncio.run(instance.predict(records=[ROWS[0], {**ROWS[1], "colour": "red"}]))
    assert instance.classify(ROWS * 3) == EXPECTED * 3


def test_concurrent_calls_share_model_calls_and_each_gets_its_own_answer(service):
    instance = service.IrisClassifier()

    async def many() -> list[dict]:
        return await asyncio.gather(
            *(instance.predict(records=[ROWS[i % 2]] * (1 + i % 3)) for i in range(40))
        )

    answers = asyncio.run(many())
    for i, answer in enumerate(answers):
        assert answer["predictions"] == [EXPECTED[i % 2]] * (1 + i % 3)
    assert max(instance.batcher.sizes) > 3  # records of several requests went to the model together
    assert sum(instance.batcher.sizes) == sum(1 + i % 3 for i in range(40))


def test_the_schema_comes_from_the_sample_input(service):
    import pandas as pd

    sample = pd.read_csv(DEPLOY / "sample-input.csv")
    assert list(service.SCHEMA) == list(sample.columns) == list(ROWS[0])
    assert set(service.SCHEMA.values()) == {"number"}


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_over_http_in_process(service):
    from starlette.testclient import TestClient

    with TestClient(service.IrisClassifier.to_asgi()) as client:
        response = client.post("/predict", json={"records": ROWS})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == EXPECTED
        for case, body, status, words in BAD_INPUTS:
            response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (case, response.text)
            assert all(w in response.text for w in words), (case, response.text)


@pytest.fixture(scope="module")
def server(env, tmp_path_factory):
    """`bentoml serve` of the deploy folder on a free loopback port; stopped at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = [
        PYTHON,
        "-m",
        "bentoml",
        "serve",
        "service:IrisClassifier",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with running(args, log, cwd=DEPLOY, env=env) as proc:
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
        except (RuntimeError, TimeoutError):
            pytest.fail(f"bentoml serve did not start:\n{log.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}"


def test_a_served_model_predicts(server):
    status, text = post(f"{server}/predict", json.dumps({"records": ROWS}).encode())
    assert status == 200, text
    assert json.loads(text)["predictions"] == EXPECTED


@pytest.mark.parametrize("case, body, status, words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_a_served_model_answers_bad_input_with_4xx_naming_the_problem(server, case, body, status, words):
    got, text = post(f"{server}/predict", body)
    assert got == status, text
    assert all(w in text for w in words), text
    assert "unexpected error" not in text


def test_concurrent_requests_each_get_their_own_answer(server):
    bodies = [json.dumps({"records": [ROWS[i % 2]] * (1 + i % 3)}).encode() for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: post(f"{server}/predict", b), bodies))
    for i, (status, text) in enumerate(answers):
        assert status == 200, text
        assert json.loads(text)["predictions"] == [EXPECTED[i % 2]] * (1 + i % 3)
