"""`./ecr.sh --backend podman` end to end against a local registry and a local ECR API (moto), then
the pushed image run with podman answering /predict on loopback; and ecr.sh's error paths.

Installs podman, skopeo, docker-registry, awscli and debootstrap when missing (root, Debian's
mirror); stops every process and container it starts.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest
from conftest import PYTHON
from deploy_support import (
    DEPLOY,
    EXPECTED,
    ROWS,
    deploy_env,
    free_port,
    install_podman,
    local_ecr,
    local_registry,
    post,
    trained_deploy,
    wait_http,
)

pytestmark = pytest.mark.slow
ECR = str(DEPLOY / "ecr.sh")


@pytest.fixture(scope="module")
def tools():
    """The Debian packages the container deploy needs."""
    if os.geteuid() != 0 and shutil.which("podman") is None:
        pytest.fail("podman is missing and installing it needs root: run scripts/install-podman.sh")
    install_podman()


@pytest.fixture(scope="module")
def ecr(tools, tmp_path_factory):
    """A local ECR API (moto) and registry; yields the environment ecr.sh needs to reach them."""
    tmp = tmp_path_factory.mktemp("ecr")
    with local_ecr(tmp) as aws, local_registry(tmp) as registry:
        yield {**aws, "ECR_REGISTRY": registry}


def ecr_sh(*args: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", ECR, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_ecr_sh_pushes_an_image_that_serves_the_run(ecr, tmp_path_factory):
    from mlflow.tracking import MlflowClient

    env = {**trained_deploy(tmp_path_factory), **ecr, "PYTHON": PYTHON}
    tag = "e2e-" + uuid.uuid4().hex[:8]
    done = ecr_sh("--backend", "podman", "--ecr-name", "iris-e2e", "--tag", tag, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert env["AWS_SECRET_ACCESS_KEY"] not in output
    image = f"{ecr['ECR_REGISTRY']}/iris-e2e:{tag}"
    assert f"image: {image}" in done.stdout
    digest = done.stdout.split("digest: ")[1].split()[0]
    assert digest.startswith("sha256:")

    name = "iris-e2e-" + tag
    try:
        seen = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{image}"],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert seen.returncode == 0, seen.stderr
        inspected = json.loads(seen.stdout)
        assert inspected["Digest"] == digest
        labels = inspected["Labels"]
        assert labels["mlflow.run_id"] == env["RUN_ID"]
        assert labels["bentoml.bento_tag"].startswith("iris_classifier:")
        assert labels["org.opencontainers.image.version"] == labels["bentoml.bento_tag"]

        tags = MlflowClient(env["MLFLOW_TRACKING_URI"]).get_run(env["RUN_ID"]).data.tags
        assert tags["deploy.image_uri"] == image and tags["deploy.image_digest"] == digest

        # Run what the registry holds, not the local build: drop the local tag first.
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, timeout=120)
        port = free_port()
        run = ["podman", "run", "-d", "--rm", "--name", name, "--tls-verify=false"]
        started = subprocess.run(
            [*run, "-p", f"127.0.0.1:{port}:3000", image], capture_output=True, text=True, timeout=300
        )
        assert started.returncode == 0, started.stderr
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", 120)
        except TimeoutError:
            logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True).stdout
            pytest.fail(f"the container did not become ready:\n{logs[-3000:]}")
        status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": ROWS}).encode())
        assert status == 200, text
        assert json.loads(text)["predictions"] == EXPECTED
        status, text = post(f"http://127.0.0.1:{port}/predict", b'{"records": []}')
        assert status == 400 and "empty" in text
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "5", name], capture_output=True, timeout=120)
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, timeout=120)


def test_ecr_sh_without_a_model_stops_with_a_message(ecr, tmp_path):
    env = {**deploy_env(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}"), **ecr, "PYTHON": PYTHON}
    done = ecr_sh("--backend", "podman", "--ecr-name", "iris-none", env=env, timeout=300)
    assert done.returncode == 2
    assert "No FINISHED run of pipeline 'train_iris'" in done.stderr and "no model to ship" in done.stderr
    assert env["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr


def _without_aws(env: dict) -> dict:
    return {k: v for k, v in env.items() if not k.startswith("AWS_")}


@pytest.mark.parametrize("case", ["no backend", "bad backend", "no aws", "no region", "no credentials"])
def test_ecr_sh_stops_early_on_what_is_missing(tools, tmp_path, case):
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "key-id",
           "AWS_SECRET_ACCESS_KEY": "secret-never-printed"}  # fmt: skip  # pragma: allowlist secret
    args = ["--backend", "podman"]
    if case == "no backend":
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "dirname").symlink_to(shutil.which("dirname"))
        env["PATH"] = str(tmp_path / "bin")
        expected = "the container backend 'podman' is not installed"
    elif case == "bad backend":
        args = ["--backend", "lxc"]
        expected = "--backend must be docker or podman"
    elif case == "no aws":
        env["AWS_CLI"] = str(tmp_path / "no-aws")
        expected = "the aws CLI is missing"
    elif case == "no region":
        env = _without_aws(env)
        expected = "no AWS region"
    else:
        none = str(tmp_path / "none")
        env = {**_without_aws(env), "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_CONFIG_FILE": none}  # fmt: skip
        expected = "AWS credentials are missing or rejected"
    done = subprocess.run(["/bin/bash", ECR, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "secret-never-printed" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_ecr_sh_help():
    done = subprocess.run(["bash", ECR, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "--backend docker|podman" in done.stdout
