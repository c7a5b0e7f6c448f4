"""Helpers for the deploy tests: free ports, processes that are always stopped, a trained Iris
run imported into a throwaway BentoML store, a local registry and a local ECR API."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from conftest import PYTHON, ROOT, train

DEPLOY = ROOT / "deploy" / "IrisClassifier" / "V1"
DEPLOY_V2 = ROOT / "deploy" / "IrisClassifier" / "V2"
VENV_BIN = Path(PYTHON).parent
ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3},
]
"""Two real flowers: a setosa and a virginica."""
EXPECTED = ["setosa", "virginica"]

GOOD = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
INTEGERS = {"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 0}
"""A valid record of JSON integers where the signature says double: accepted, a setosa."""


def _body(**changes) -> bytes:
    """A /predict body of one record: GOOD with some columns changed (None removes one)."""
    record = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return json.dumps({"records": [record]}).encode()


def _raw(value: bytes) -> bytes:
    """A /predict body whose first column holds `value` verbatim (NaN, Infinity, huge numbers)."""
    return (
        b'{"records": [{"sepal_length": '
        + value
        + b', "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}'
    )


JSON = "application/json"
#: Bad bodies for /predict: (case, body bytes, content type, expected status, words the message holds).
BAD_INPUTS = [
    ("missing column", _body(petal_width=None), JSON, 400, ["record 0", "missing", "petal_width"]),
    ("extra column", _body(colour="blue"), JSON, 400, ["record 0", "unexpected", "colour"]),
    ("misspelt column", _body(petal_width=None, petal_widht=0.2), JSON, 400, ["missing", "petal_width"]),
    ("string", _body(sepal_length="long"), JSON, 400, ["record 0", "sepal_length", "number"]),
    ("numeric string", _body(sepal_length="5.1"), JSON, 400, ["sepal_length", "must be a number"]),
    ("boolean", _body(sepal_length=True), JSON, 400, ["sepal_length", "number"]),
    ("null", _raw(b"null"), JSON, 400, ["sepal_length", "null"]),
    ("list value", _body(sepal_length=[5.1]), JSON, 400, ["sepal_length", "list"]),
    ("object value", _body(sepal_length={"cm": 5.1}), JSON, 400, ["sepal_length", "dict"]),
    ("NaN", _raw(b"NaN"), JSON, 400, ["sepal_length", "NaN"]),
    ("Infinity", _raw(b"-Infinity"), JSON, 400, ["sepal_length", "infinite"]),
    ("400-digit integer", _raw(b"9" * 400), JSON, 400, ["sepal_length", "out of range"]),
    ("1e400", _raw(b"1e400"), JSON, 400, ["sepal_length", "infinite"]),
    ("deep nesting", b'{"records": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", JSON, 400, ["nested"]),
    ("wrong content type", b"sepal_length,sepal_width\n5.1,3.5\n", "text/csv", 415, ["Content-Type"]),
    ("empty list", b'{"records": []}', JSON, 400, ["empty"]),
    ("records not a list", b'{"records": 3}', JSON, 400, ["list"]),
    ("record not an object", b'{"records": [[5.1, 3.5, 1.4, 0.2]]}', JSON, 400, ["record 0", "object"]),
    ("no records key", b"{}", JSON, 400, ["records"]),
    ("a field next to records", b'{"records": [], "limit": 3}', JSON, 400, ["unexpected", "limit"]),
    ("not JSON", b"sepal_length=5.1", JSON, 400, ["JSON"]),
    ("non-UTF-8 bytes", b'{"records": [{"sepal_length": "\xff\xfe"}]}', JSON, 400, ["UTF-8"]),
    ("too many records", json.dumps({"records": [GOOD] * 1001}).encode(), JSON, 400, ["1001", "at most"]),
    ("declared body over the limit", b'{"records": [' + b" " * 1_100_000 + b"]}", JSON, 413, ["limit"]),
    # Found by `make fuzz` (mlrepo/ship/fuzz.py); each was a 500 or a schema-valid body refused.
    ("fuzz: largest double, a 500", _raw(b"1.7976931348623157e+308"), JSON, 400, ["out of range"]),
    ("fuzz: 1e101", _raw(b"-1e101"), JSON, 400, ["sepal_length", "at most 1e+100"]),
    ("fuzz: no body at all", b"", "", 400, ["JSON"]),
]  # fmt: skip


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers 200; fail early if `proc` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def running(args: Sequence[str], log: Path, **kwargs) -> Iterator[subprocess.Popen]:
    """Run a process in its own process group; stop the whole group on exit, even on failure."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def post(url: str, body: bytes, timeout: float = 30, content_type: str = JSON) -> tuple[int, str]:
    """POST a body (JSON by default); return (status, text) for any status."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post_chunked(url: str, chunks: int, chunk: bytes, timeout: float = 60) -> tuple[int, str]:
    """POST a body of `chunks` x `chunk` with chunked transfer encoding (no declared length)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request("POST", parsed.path, body=(chunk for _ in range(chunks)), encode_chunked=True,
                     headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})  # fmt: skip
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def deploy_env(tmp: Path, tracking_uri: str) -> dict[str, str]:
    """The environment of a deploy command: a throwaway BentoML home and MLflow store, and the
    repository root on PYTHONPATH (a deploy's service.py imports mlrepo.ship.serving)."""
    return {**os.environ, "BENTOML_HOME": str(tmp / "bentoml"), "MLFLOW_TRACKING_URI": tracking_uri,
            "BENTOML_DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true",
            "PYTHONPATH": str(ROOT)}  # fmt: skip


def train_and_import(tmp: Path, tracking_uri: str, *overrides: str) -> dict[str, str]:
    """Train Iris into the store, import the best run into a fresh BentoML home for V1 and V2;
    return the env (with RUN_ID and MODEL_TAG added, and V2_MODEL_TAG for V2)."""
    env = deploy_env(tmp, tracking_uri)
    done = train("pipeline=train_iris", *overrides, env=env)
    assert done.returncode == 0, done.stderr
    for deploy, prefix in ((DEPLOY, ""), (DEPLOY_V2, "V2_")):
        out = tmp / f"model-{deploy.name}.env"
        imported = subprocess.run(
            [PYTHON, str(deploy / "create_bento_model.py"), "--output-env", str(out)],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        for line in out.read_text().splitlines():
            key, _, value = line.partition("=")
            env[prefix + key] = value
    return env


def install_podman() -> None:
    """Install podman, skopeo, docker-registry, awscli and debootstrap when missing (root)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "install-podman.sh")], check=True, timeout=900)


@contextlib.contextmanager
def local_registry(tmp: Path) -> Iterator[str]:
    """Debian's docker-registry on loopback with storage under `tmp`; yields `localhost:PORT`."""
    port = free_port()
    (tmp / "registry").mkdir()
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'registry'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    with running(["docker-registry", "serve", str(config)], tmp / "registry.log") as proc:
        wait_http(f"http://127.0.0.1:{port}/v2/", 30, proc)
        yield f"localhost:{port}"


@contextlib.contextmanager
def local_ecr(tmp: Path) -> Iterator[dict[str, str]]:
    """moto_server on loopback as the ECR API; yields the AWS environment that points at it."""
    port = free_port()
    with running(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], tmp / "moto.log"
    ) as proc:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", 60, proc)
        yield {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing-key-id",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-never-printed",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


_TRAINED: dict[str, dict[str, str]] = {}


def trained_deploy(tmp_path_factory) -> dict[str, str]:
    """One Iris run trained and imported per test session (shared by the deploy test modules).

    Returns:
        The deploy environment (BENTOML_HOME, MLFLOW_TRACKING_URI, RUN_ID, MODEL_TAG).
    """
    if "env" not in _TRAINED:
        tmp = tmp_path_factory.mktemp("deploy")
        (tmp / "store").mkdir()
        _TRAINED["env"] = train_and_import(tmp, f"sqlite:///{tmp / 'store' / 'mlflow.db'}")
    return _TRAINED["env"]


@contextlib.contextmanager
def bentoml_home(home: str) -> Iterator[None]:
    """Point this process's BentoML stores at `home` (BentoML caches them on first use)."""
    from bentoml._internal.bento import BentoStore
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    BentoMLContainer.model_store.set(ModelStore(os.path.join(home, "models")))
    BentoMLContainer.bento_store.set(BentoStore(os.path.join(home, "bentos")))
    try:
        yield
    finally:
        BentoMLContainer.model_store.reset()
        BentoMLContainer.bento_store.reset()
