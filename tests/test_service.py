"""The IrisClassifier services (V1: labels, V2: labels with probabilities) three ways: the class
directly, over HTTP in-process (ASGI), and real `bentoml serve` processes on loopback answering
valid requests (JSON integers for doubles included) with 200 and every bad input with a 4xx."""

import asyncio
import importlib
import json
import logging
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PYTHON, ROOT
from deploy_support import (
    BAD_INPUTS,
    DEPLOY,
    DEPLOY_V2,
    EXPECTED,
    INTEGERS,
    ROWS,
    bentoml_home,
    free_port,
    post,
    post_chunked,
    running,
    trained_deploy,
    wait_http,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A trained Iris run imported into a throwaway BentoML home (for V1 and V2)."""
    return trained_deploy(tmp_path_factory)


def _import_service(folder):
    """Import a deploy folder's service.py in this process (deploy folders are not packages)."""
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("service")
    finally:
        sys.path.remove(str(folder))
        for name in ("service", "common"):  # generic names: leave nothing behind for the next one
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def service(env):
    """V1's service.py imported in this process, against the throwaway BentoML home."""
    with bentoml_home(env["BENTOML_HOME"]):
        yield _import_service(DEPLOY)


@pytest.fixture(scope="module")
def service_v2(env):
    """V2's service.py imported in this process."""
    with bentoml_home(env["BENTOML_HOME"]):
        yield _import_service(DEPLOY_V2)


def test_the_class_directly_predicts_and_refuses_bad_records(service):
    instance = service.IrisClassifier()
    answer = asyncio.run(instance.predict(records=ROWS))
    assert answer["predictions"] == EXPECTED
    assert answer["model"].startswith("iris_classifier:") and answer["timestamp"].endswith("+00:00")
    assert asyncio.run(instance.predict(records=[INTEGERS]))["predictions"] == ["setosa"]
    with pytest.raises(ValueError, match="record 1: unexpected column"):
        asyncio.run(instance.predict(records=[ROWS[0], {**ROWS[1], "colour": "red"}]))


def test_concurrent_calls_share_model_calls_and_each_gets_its_own_answer(service):
    instance = service.IrisClassifier()

    async def many() -> list[dict]:
        return await asyncio.gather(
            *(instance.predict(records=[ROWS[i % 2]] * (1 + i % 3)) for i in range(40))
        )

    answers = asyncio.run(many())
    for i, answer in enumerate(answers):
        assert answer["predictions"] == [EXPECTED[i % 2]] * (1 + i % 3)
    sizes = instance.batchers["predict"].sizes
    assert max(sizes) > 3  # records of several requests went to the model together
    assert sum(sizes) == sum(1 + i % 3 for i in range(40))


def test_a_failing_model_fails_every_caller_of_its_batch_and_is_logged(caplog):
    from mlrepo.ship.serving import Batcher

    def broken(records):
        raise RuntimeError("the model broke")

    batcher = Batcher(broken)

    async def two():
        return await asyncio.gather(batcher([ROWS[0]]), batcher([ROWS[1]]), return_exceptions=True)

    with caplog.at_level(logging.ERROR, logger="mlrepo.ship.serving"):
        results = asyncio.run(two())
    assert all(isinstance(r, RuntimeError) for r in results)
    assert "the model failed" in caplog.text and "the model broke" in caplog.text


def test_the_schema_comes_from_the_signature_with_the_sample_as_example(service):
    import pandas as pd

    sample = pd.read_csv(DEPLOY / "sample-input.csv")
    fields = service.IrisClassifier.apis["predict"].input_spec.model_json_schema()
    record = fields["$defs"]["Record"]
    assert list(record["properties"]) == list(sample.columns) == list(ROWS[0])
    assert {p["type"] for p in record["properties"].values()} == {"number"}
    assert record["properties"]["sepal_length"]["examples"] == [sample["sepal_length"][0]]
    assert record["additionalProperties"] is False


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_over_http_in_process(service):
    from starlette.testclient import TestClient

    with TestClient(service.IrisClassifier.to_asgi()) as client:
        response = client.post("/predict", json={"records": ROWS})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == EXPECTED
        for case, body, kind, status, words in BAD_INPUTS:
            response = client.post("/predict", content=body, headers={"Content-Type": kind})
            assert response.status_code == status, (case, response.text)
            assert all(w in response.json()["error"] for w in words), (case, response.text)
        page = client.get("/")
        assert page.status_code == 200 and "sepal_length" in page.text and "<script" in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN


def test_v2_answers_each_record_with_its_class_probabilities(service_v2, env):
    # The class directly: a second in-process ASGI app would register BentoML's metrics twice.
    instance = service_v2.IrisClassifier()
    answer = asyncio.run(instance.predict(records=[*ROWS, INTEGERS]))
    assert answer["model"] == env["V2_MODEL_TAG"]
    assert [p["label"] for p in answer["predictions"]] == [*EXPECTED, "setosa"]
    for prediction in answer["predictions"]:
        probabilities = prediction["probabilities"]
        assert set(probabilities) == {"setosa", "versicolor", "virginica"}
        assert abs(sum(probabilities.values()) - 1) < 1e-4
        assert max(probabilities, key=probabilities.get) == prediction["label"]
    with pytest.raises(ValueError, match="record 0: missing column"):
        asyncio.run(instance.predict(records=[{"sepal_length": 1}]))


def _serve(folder, env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = [PYTHON, "-m", "bentoml", "serve", "service:IrisClassifier", "--host", "127.0.0.1"]
    return running([*args, "--port", str(port)], log, cwd=folder, env=env), port, log


@pytest.fixture(scope="module")
def servers(env, tmp_path_factory):
    """`bentoml serve` of V1 and V2 on free loopback ports, started together; stopped at the end."""
    (v1, port1, log1), (v2, port2, log2) = (_serve(d, env, tmp_path_factory) for d in (DEPLOY, DEPLOY_V2))
    with v1 as proc1, v2 as proc2:
        for proc, port, log in ((proc1, port1, log1), (proc2, port2, log2)):
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
            except (RuntimeError, TimeoutError):
                pytest.fail(f"bentoml serve did not start:\n{log.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port1}", f"http://127.0.0.1:{port2}"


@pytest.fixture(scope="module")
def server(servers):
    """The served V1."""
    return servers[0]


def test_served_versions_answer_valid_requests_integers_for_doubles_included(servers, env):
    v1, v2 = servers
    status, text = post(f"{v1}/predict", json.dumps({"records": [*ROWS, INTEGERS]}).encode())
    assert status == 200, text
    answer = json.loads(text)
    # The latest iris_classifier in the shared store (the ECR test imports the run again).
    assert answer["predictions"] == [*EXPECTED, "setosa"] and answer["model"].startswith("iris_classifier:")
    assert list(answer) == ["predictions", "timestamp", "model"]  # V1's answer keeps its shape
    status, text = post(f"{v2}/predict", json.dumps({"records": [INTEGERS]}).encode())
    assert status == 200, text
    assert json.loads(text)["predictions"][0]["label"] == "setosa"


@pytest.mark.parametrize("case, body, kind, status, words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_a_served_model_answers_bad_input_with_4xx_naming_the_problem(
    server, case, body, kind, status, words
):
    got, text = post(f"{server}/predict", body, content_type=kind)
    assert got == status, text
    assert all(w in json.loads(text)["error"] for w in words), text


def test_an_oversize_body_gets_a_readable_413_declared_or_chunked(server):
    status, text = post(f"{server}/predict", b'{"records": [' + b" " * 8_000_000 + b"]}", timeout=60)
    assert status == 413 and "over the limit" in text
    status, text = post_chunked(f"{server}/predict", 100, b" " * 65536)  # 6.5 MB, no declared length
    assert status == 413 and "over the limit" in text
    status, text = post_chunked(f"{server}/predict", 1, json.dumps({"records": ROWS}).encode())
    assert status == 200 and json.loads(text)["predictions"] == EXPECTED  # a small chunked body is fine


def test_the_openapi_document_lists_the_record_fields(server):
    with urllib.request.urlopen(f"{server}/docs.json", timeout=10) as response:
        spec = json.load(response)
    record = spec["components"]["schemas"]["Record"]
    assert list(record["properties"]) == list(ROWS[0])
    assert all(p["type"] == "number" and p["examples"] for p in record["properties"].values())
    with urllib.request.urlopen(f"{server}/docs", timeout=10) as response:
        assert response.status == 200 and "swagger" in response.read().decode().lower()


def test_concurrent_requests_each_get_their_own_answer(server):
    bodies = [json.dumps({"records": [ROWS[i % 2]] * (1 + i % 3)}).encode() for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: post(f"{server}/predict", b), bodies))
    for i, (status, text) in enumerate(answers):
        assert status == 200, text
        assert json.loads(text)["predictions"] == [EXPECTED[i % 2]] * (1 + i % 3)


def test_the_try_it_page_predicts_in_a_browser(server, tmp_path_factory):
    from docs_support import chromium, install_chromium
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    install_chromium()
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), loopback=True)
    try:
        driver.get(f"{server}/")
        answer = driver.find_element(By.CSS_SELECTOR, ".answer")
        driver.find_element(By.CSS_SELECTOR, "form.record button").click()  # the sample's first row
        WebDriverWait(driver, 30).until(lambda d: "setosa" in answer.text)
        field = driver.find_element(By.NAME, "petal_width")
        field.clear()
        field.send_keys("wide")
        driver.find_element(By.CSS_SELECTOR, "form.record button").click()
        WebDriverWait(driver, 30).until(lambda d: "400" in answer.text)
        assert "petal_width" in answer.text and "must be a number" in answer.text
        csv = driver.find_element(By.CSS_SELECTOR, "textarea.csv")
        csv.clear()
        csv.send_keys("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3,5.2,2.3")
        driver.find_element(By.CSS_SELECTOR, "button.send-csv").click()
        WebDriverWait(driver, 30).until(lambda d: "virginica" in answer.text)
        assert "setosa" in answer.text
    finally:
        driver.quit()


def test_make_serve_without_an_imported_model_says_what_to_run(tmp_path):
    import subprocess

    env = {"BENTOML_HOME": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [PYTHON, "-m", "mlrepo.ship.deploy", "serve", "--model", "IrisClassifier/V2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "make bento-model MODEL=IrisClassifier/V2" in done.stderr and "Traceback" not in done.stderr


def test_one_request_that_breaks_the_model_does_not_fail_its_batch_mates():
    from mlrepo.ship.serving import Batcher

    def picky(records):
        if any(r.get("bad") for r in records):
            raise ValueError("overflow")
        return [r["x"] for r in records]

    batcher = Batcher(picky)

    async def three():
        return await asyncio.gather(
            batcher([{"x": 1}]), batcher([{"x": 2, "bad": True}]), batcher([{"x": 3}, {"x": 4}]),
            return_exceptions=True,
        )  # fmt: skip

    first, second, third = asyncio.run(three())
    assert first == [1] and third == [3, 4]
    assert isinstance(second, ValueError)
    assert batcher.sizes[0] == 4  # they did go to the model together first


def test_other_methods_and_paths_answer_a_json_error(server):
    for method, path, status in (("PUT", "/predict", 405), ("DELETE", "/predict", 405),
                                 ("TRACE", "/healthz", 405), ("POST", "/readyz", 405),
                                 ("GET", "/no-such-page", 404)):  # fmt: skip
        request = urllib.request.Request(
            f"{server}{path}", data=b"{}" if method == "PUT" else None, method=method
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == status, (method, path)
        assert caught.value.headers["content-type"] == "application/json", (method, path)
        assert json.loads(caught.value.read())["error"], (method, path)
        if path == "/predict":
            assert caught.value.headers["allow"] == "POST"


def test_the_openapi_document_states_what_the_gate_accepts(server):
    with urllib.request.urlopen(f"{server}/docs.json", timeout=10) as response:
        spec = json.load(response)
    body = spec["paths"]["/predict"]["post"]["requestBody"]
    assert body["required"] is True
    records = body["content"]["application/json"]["schema"]
    assert records["additionalProperties"] is False
    assert records["properties"]["records"]["minItems"] == 1
    assert records["properties"]["records"]["maxItems"] == 1000
    column = spec["components"]["schemas"]["Record"]["properties"]["sepal_length"]
    assert column["maximum"] == 1e100 and column["minimum"] == -1e100
