"""`make deploy|rollback|undeploy` (mlrepo/ship/kube.py): the manifest made from a version's
`deploy.yaml` and validated offline; then, with real podman and a local registry, an image that
ecr.sh pushed is played on loopback, smoke-tested, traced, replaced by a broken image that is
rolled back, rolled back by hand, and undeployed without leaving a pod behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import PYTHON, ROOT
from deploy_support import DEPLOY, EXPECTED, ROWS, free_port, post

from mlrepo.errors import UserError
from mlrepo.ship import kube

IMAGE = "localhost:5000/iris-classifier@sha256:" + "ab" * 32
POD = "irisclassifier-v1-pod-0"


# --- the manifest (fast, no container) ------------------------------------------------------------


def test_manifest_is_valid_kubernetes_with_probes_resources_and_the_image_by_digest():
    objects = kube.manifest("IrisClassifier/V1", IMAGE, kube.declaration("IrisClassifier/V1"), "train_iris")
    assert [o["kind"] for o in objects] == ["ConfigMap", "Deployment", "Service"]
    assert kube.validate(objects) == []
    container = objects[1]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]
    assert container["envFrom"] == [{"configMapRef": {"name": "irisclassifier-v1-config"}}]
    assert "env" not in container  # settings come from the ConfigMap; no secret anywhere
    assert objects[0]["data"]["MLREPO_DEPLOY"] == "IrisClassifier/V1"
    assert objects[1]["spec"]["replicas"] == 2
    text = kube.to_yaml(objects)
    assert "&id" not in text and len(list(yaml.safe_load_all(text))) == 3

    local = kube.local_manifest(objects, 8123)
    assert [o["kind"] for o in local] == ["ConfigMap", "Deployment"]  # podman 4.3 plays no Service
    port = local[1]["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    assert port["hostIP"] == "127.0.0.1" and port["hostPort"] == 8123
    assert local[1]["spec"]["replicas"] == 1
    assert kube.validate(local) == []
    assert objects[1]["spec"]["replicas"] == 2  # the cluster's manifest is left as it was


def test_validation_catches_a_bad_object():
    objects = kube.manifest("IrisClassifier/V1", IMAGE, kube.declaration("IrisClassifier/V1"), "train_iris")
    objects[1]["spec"]["replicas"] = "two"
    objects[1]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    objects[2]["spec"]["portz"] = []
    problems = kube.validate(objects)
    assert any("replicas" in p for p in problems), problems
    assert any("portz" in p for p in problems), problems


def test_every_deploy_declaration_is_the_templates_or_declares_its_own_values():
    for deploy in ("IrisClassifier/V1", "IrisClassifier/V2"):
        assert (ROOT / "deploy" / deploy / "deploy.yaml").read_text() == kube.declare_text(deploy)
        assert kube.declaration(deploy)["replicas"] >= 1


def test_new_deploy_renders_the_declaration_the_manifest_is_made_from():
    from mlrepo.new import render

    context = {"model": "WineForest", "version": 3, "pipeline": "rfv1-winev1", "pins": ["bentoml==1.4.40"],
               "model_name": "wine_forest_v3", "sample_csv": "a,b\n1,2\n"}  # fmt: skip
    files = render.render("deploy", context)
    assert files["deploy/WineForest/V3/deploy.yaml"].decode() == kube.declare_text("WineForest/V3")
    declared = yaml.safe_load(files["deploy/WineForest/V3/deploy.yaml"])
    objects = kube.manifest("WineForest/V3", IMAGE, {**declared, "config": declared["config"]}, "rfv1-winev1")
    assert kube.validate(objects) == [] and objects[1]["metadata"]["name"] == "wineforest-v3"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("replica: 2\n", ["unknown key", "replica"]),
        ("replicas: 0\n", ["replicas", ">= 1"]),
        ("config:\n  DB_PASSWORD: x\n", ["DB_PASSWORD", "secret"]),
        ("- a list\n", ["mapping"]),
        ("replicas: [\n", ["not valid YAML"]),
    ],
)
def test_a_bad_declaration_is_one_paragraph(tmp_path, text, words):
    (tmp_path / "M" / "V1").mkdir(parents=True)
    (tmp_path / "M" / "V1" / "deploy.yaml").write_text(text)
    with pytest.raises(UserError) as raised:
        kube.declaration("M/V1", tmp_path)
    assert all(word in str(raised.value) for word in words), raised.value
    with pytest.raises(UserError, match="deploy declare"):
        kube.declaration("M/V2", tmp_path)


def test_one_rollout_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setenv("MLREPO_DEPLOY_STATE", str(tmp_path))
    with kube.locked("IrisClassifier/V1"):
        with pytest.raises(UserError, match="Another deploy"):
            with kube.locked("IrisClassifier/V1"):
                pass
        with kube.locked("IrisClassifier/V2"):  # another deploy is not blocked
            pass
    with kube.locked("IrisClassifier/V1"):  # released
        pass


@pytest.mark.parametrize(
    ("status", "answer", "words"),
    [
        (200, {"predictions": ["setosa"]}, ["sent 6 rows and got 1 predictions"]),
        (200, {"result": []}, ["no `predictions`"]),
        (500, {"error": "model failed"}, ["HTTP 500", "model failed"]),
    ],
)
def test_the_smoke_test_checks_the_answers_shape(status, answer, words):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(kube.RolloutError) as raised:
            kube.smoke(DEPLOY / "sample-input.csv", server.server_address[1], timeout=10)
    finally:
        server.shutdown()
    assert all(word in str(raised.value) for word in words), raised.value


def _cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "mlrepo", "deploy", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("model", ["Nope/V1", "IrisClassifier", "IrisClassifier/V0"])
def test_a_bad_model_is_refused_before_anything_runs(model):
    done = _cli("up", "--model", model)
    assert (
        done.returncode == 2 and "Available deploys: " in done.stderr and "IrisClassifier/V1" in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # a process importing MLflow
def test_deploy_without_a_pushed_image_says_how_to_push_one(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'empty.db'}",
           "MLREPO_DEPLOY_STATE": str(tmp_path / "state")}  # fmt: skip
    done = _cli("up", "--model", "IrisClassifier/V1", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "No run of pipeline 'train_iris'" in done.stderr and "make ecr MODEL=" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # a process importing MLflow and BentoML
def test_trace_shows_where_a_run_is_deployed(tmp_path, tracking_uri):
    import mlflow

    from mlrepo.track import tracking

    uri = tracking.connect(tracking_uri)
    tags = {"pipeline": "train_iris", "git.commit": "c0ffee", "run.uid": "u",
            "deployment.local.status": "running", "deployment.local.endpoint": "http://127.0.0.1:8123",
            "deployment.local.image": IMAGE, "deployment.local.revision": "3",
            "deployment.local.at": "2026-12-07T10:00:00Z",
            "deployment.local.by": "ops@example.com"}  # fmt: skip
    with mlflow.start_run(experiment_id=tracking.experiment_id("train_iris", uri), tags=tags) as run:
        pass
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    done = subprocess.run([sys.executable, "-m", "mlrepo", "trace", run.info.run_id, "--uri", uri, "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    local = json.loads(done.stdout)["run"]["deployments"]["local"]
    assert local["status"] == "running" and local["endpoint"] == "http://127.0.0.1:8123"
    assert local["image"] == IMAGE and local["by"] == "ops@example.com"


# --- real podman, a local registry, the image ecr.sh pushed (slow) --------------------------------


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """ecr.sh pushes V1's image to a local registry; a second good image and a broken one (its
    model removed: it fails at load) are built on it and pushed. Yields the deploy environment."""
    from deploy_support import install_podman, local_ecr, local_registry, trained_deploy

    install_podman()
    tmp = tmp_path_factory.mktemp("kube")
    with local_ecr(tmp) as aws, local_registry(tmp) as registry:
        env = {**trained_deploy(tmp_path_factory), **aws, "ECR_REGISTRY": registry, "PYTHON": PYTHON,
               "MLREPO_DEPLOY_STATE": str(tmp / "state")}  # fmt: skip
        tag = "kube-" + uuid.uuid4().hex[:8]
        ecr = ["bash", str(DEPLOY / "ecr.sh"), "--backend", "podman", "--ecr-name", "iris-kube", "--tag", tag]
        done = subprocess.run(ecr, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        image = f"{registry}/iris-kube:{tag}"
        digest = done.stdout.split("digest: ")[1].split()[0]
        images = {"pushed": image, "digest": digest}
        for name, step in (
            ("good2", "LABEL mlrepo.test=second"),
            ("broken", "RUN rm -rf /home/bentoml/bento/models"),
        ):
            (tmp / name).write_text(f"FROM {image}\n{step}\n")
            ref = f"{registry}/iris-kube:{tag}-{name}"
            built = subprocess.run(["podman", "build", "-q", "-f", str(tmp / name), "-t", ref, str(tmp)],
                                   capture_output=True, text=True, timeout=300)  # fmt: skip
            assert built.returncode == 0, built.stderr
            sent = subprocess.run(["podman", "push", "-q", "--tls-verify=false", ref],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert sent.returncode == 0, sent.stderr
            images[name] = ref
        env["PORT"] = str(free_port())
        try:
            yield env, images
        finally:
            subprocess.run(["podman", "pod", "rm", "-f", POD], capture_output=True, timeout=120)
            listed = subprocess.run(["podman", "images", "--format", "{{.ID}} {{.Repository}}"],
                                    capture_output=True, text=True, timeout=60).stdout  # fmt: skip
            ids = [line.split()[0] for line in listed.splitlines() if f"{registry}/iris-kube" in line]
            if ids:  # pulled by digest, they have no tag: removed by id
                subprocess.run(["podman", "rmi", "-f", *set(ids)], capture_output=True, timeout=120)


def _make(target: str, env: dict, *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.synced", target, "MODEL=IrisClassifier/V1",
         f"DEPLOY_PORT={env['PORT']}", *variables],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _answers(port: str) -> list[str]:
    status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": ROWS}).encode())
    assert status == 200, text
    return json.loads(text)["predictions"]


def _pods() -> list[str]:
    listed = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"],
                            capture_output=True, text=True, timeout=60).stdout.split()  # fmt: skip
    pods = subprocess.run(["podman", "pod", "ps", "--format", "{{.Name}}"],
                          capture_output=True, text=True, timeout=60).stdout.split()  # fmt: skip
    return [n for n in listed + pods if n.startswith("irisclassifier-v1")]


@pytest.mark.slow
def test_deploy_smoke_trace_broken_rollout_rollback_undeploy(pushed):
    from mlflow.tracking import MlflowClient

    env, images = pushed
    port, uri = env["PORT"], env["MLFLOW_TRACKING_URI"]

    # 1. make deploy takes the image ecr.sh pushed (from the run's tags), by digest.
    done = _make("deploy", env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "deployed IrisClassifier/V1 revision 1" in done.stdout and images["digest"] in done.stdout
    assert _answers(port) == EXPECTED
    tags = MlflowClient(uri).get_run(env["RUN_ID"]).data.tags
    assert tags["deployment.local.status"] == "running"
    assert tags["deployment.local.endpoint"] == f"http://127.0.0.1:{port}"
    assert tags["deployment.local.image"].endswith("@" + images["digest"])

    # 2. trace, from the image and from the registry alias, says where it runs.
    client = MlflowClient(uri)
    client.create_registered_model("IrisClassifierKube")
    version = client.create_model_version("IrisClassifierKube", f"runs:/{env['RUN_ID']}/model", env["RUN_ID"])
    client.set_registered_model_alias("IrisClassifierKube", "champion", version.version)
    for thing in (images["pushed"], "IrisClassifierKube@champion"):
        traced = subprocess.run([PYTHON, "-m", "mlrepo", "trace", thing, "--uri", uri], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert traced.returncode == 0, traced.stderr
        assert f"deployed       local: running at http://127.0.0.1:{port}" in traced.stdout, traced.stdout

    # 3. a second good image becomes revision 2.
    done = _cli("up", "--model", "IrisClassifier/V1", "--image", images["good2"], env=env)
    assert done.returncode == 0 and "revision 2" in done.stdout, done.stderr[-3000:]

    # 4. a broken image fails readiness: rolled back to revision 2, which still answers.
    done = _cli(
        "up", "--model", "IrisClassifier/V1", "--image", images["broken"], "--timeout", "120", env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (message,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert message.startswith("error: The rollout of"), done.stderr
    assert "before /readyz answered" in message and "Rolled back to revision 2" in message
    assert "Traceback" not in done.stderr.split("its last log lines")[0]
    assert _answers(port) == EXPECTED
    state = json.loads((Path(env["MLREPO_DEPLOY_STATE"]) / "irisclassifier-v1.local.json").read_text())
    assert [r["revision"] for r in state["revisions"]] == [1, 2] and state["running"]

    # 5. make rollback goes back to revision 1's image (as a new revision 3); it answers.
    done = _make("rollback", env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rolled back IrisClassifier/V1 revision 3" in done.stdout and images["digest"] in done.stdout
    assert _answers(port) == EXPECTED

    # 6. make undeploy leaves no container or pod; again is harmless.
    done = _make("undeploy", env)
    assert done.returncode == 0 and "undeployed IrisClassifier/V1" in done.stdout, done.stderr
    assert _pods() == []
    again = _make("undeploy", env)
    assert again.returncode == 0 and "was not running" in again.stdout, again.stderr
    assert MlflowClient(uri).get_run(env["RUN_ID"]).data.tags["deployment.local.status"] == "stopped"


@pytest.mark.slow
def test_deploy_of_a_missing_image_stops_before_anything_changes(pushed, tmp_path):
    env, images = pushed
    missing = images["pushed"].rsplit(":", 1)[0] + ":no-such-tag"
    done = _cli("up", "--model", "IrisClassifier/V1", "--image", missing, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "The registry has no image" in done.stderr and "Traceback" not in done.stderr
    assert _pods() == []
    nothing = _cli(
        "rollback", "--model", "IrisClassifier/V1", env={**env, "MLREPO_DEPLOY_STATE": "/nonexistent/x"}
    )
    assert nothing.returncode == 2 and "no earlier revision" in nothing.stderr
