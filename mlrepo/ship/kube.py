"""How a deploy version runs: its Kubernetes manifest, and `make deploy|rollback|undeploy` on podman.

A version folder declares in `deploy.yaml` only what is its own (replicas, CPU and memory,
non-secret settings); this module makes the rest of the manifest from it: a ConfigMap with the
settings, a Deployment (the image by digest, probes on BentoML's `/readyz` and `/livez`, the
ConfigMap as environment, no secret) and a Service. The same manifest is what a platform
engineer sends to a cluster (`kubectl apply -f`); here `podman kube play` runs it on loopback.

    python -m mlrepo deploy manifest --model IrisClassifier/V1 [--image REF] [--out FILE]
    python -m mlrepo deploy declare  --model IrisClassifier/V1     # write a missing deploy.yaml
    python -m mlrepo deploy up       --model IrisClassifier/V1 [--image REF] [--port 8000]
    python -m mlrepo deploy rollback --model IrisClassifier/V1
    python -m mlrepo deploy down     --model IrisClassifier/V1
    python -m mlrepo deploy status   --model IrisClassifier/V1

Decisions (where the issue is silent):

- The image is the one `ecr.sh` pushed for the deploy's pipeline (the newest run carrying
  `deploy.image_uri` and `deploy.image_digest`), or `--image`; it is always run by digest, and
  the registry is asked for it first (a missing image stops before anything is replaced).
- Podman 4.3 plays ConfigMap, Deployment and Pod, not Service; one pod, whatever `replicas`
  says. The local target plays the ConfigMap and the Deployment, with the container port
  published on 127.0.0.1 only (`hostIP`), the Service's job here; nothing listens beyond loopback.
- A rollout replaces the running pod (`podman kube play --replace`), waits for `/readyz`, then
  posts the version's `sample-input.csv` to `/predict` and checks one prediction per row. If
  either fails, the previous revision is played again (a short outage, which a cluster's
  rolling update avoids: `maxUnavailable: 0`), and the command exits 1 with one paragraph.
- Revisions are kept as `kubectl rollout undo` keeps them: `rollback` plays the revision before
  the current one and records it as a new revision, so a second rollback comes back.
- The record of what runs where is twofold: the deploy state (`$MLREPO_DEPLOY_STATE`, default
  `.mlflow/deployments/`: revisions and the manifests played) and the run's MLflow tags
  `deployment.<target>.*` (image, endpoint, at, by, status) that `trace` prints.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrepo import ROOT
from mlrepo.errors import UserError

DECLARATION = "deploy.yaml"
"""The file in a version folder that declares how it runs."""
TEMPLATE = ROOT / "mlrepo/new/templates/deploy/deploy/{{ model }}/V{{ version }}/deploy.yaml.jinja"
"""The one source of a new `deploy.yaml` (`new deploy` and `deploy declare` render it)."""
KEYS = ("replicas", "resources", "config")
"""The keys a `deploy.yaml` may hold (a tuple: pdoc renders a set in a different order per process)."""
CONTAINER_PORT = 3000
"""BentoML's port inside the image."""
DEFAULT_PORT = 8000
"""The loopback port of the local target (`make serve` keeps 3000)."""
KUBERNETES_VERSION = "1.30.0"
"""The Kubernetes API the manifest is validated against (offline, kubernetes-validate's schemas)."""
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|ACCESS_KEY|API_KEY)", re.I)
DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


# --- what a version declares, and the manifest made from it -----------------------------------


def declare_text(deploy: str) -> str:
    """The default `deploy.yaml` of `deploy` (`Model/V<n>`), rendered from the deploy template."""
    import jinja2

    model, version = deploy.split("/")
    return jinja2.Template(TEMPLATE.read_text(), keep_trailing_newline=True).render(
        model=model, version=version[1:]
    )


def declaration(deploy: str, root: Path | None = None) -> dict[str, Any]:
    """Read and check `deploy/<deploy>/deploy.yaml`.

    Raises:
        UserError: the file is missing, is not a mapping, has an unknown key, a bad value, or a
            setting whose name says it is a secret.
    """
    import yaml

    path = (root or ROOT / "deploy") / deploy / DECLARATION
    if not path.is_file():
        raise UserError(
            f"deploy/{deploy} declares no {DECLARATION}: write it with `python -m mlrepo deploy declare "
            f"--model {deploy}` (replicas, resources and non-secret settings)."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"deploy/{deploy}/{DECLARATION} is not valid YAML: {exc}") from None
    where = f"deploy/{deploy}/{DECLARATION}"
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a mapping (replicas, resources, config).")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}.")
    replicas = data.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise UserError(f"{where}: replicas must be a whole number >= 1, not {replicas!r}.")
    resources = data.get("resources") or {}
    if not isinstance(resources, dict) or set(resources) - {"requests", "limits"}:
        raise UserError(f"{where}: resources holds `requests` and `limits` (cpu, memory).")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise UserError(f"{where}: config must be a mapping of NAME: value.")
    secret = sorted(k for k in config if SECRET_NAME.search(str(k)))
    if secret:
        raise UserError(
            f"{where}: {', '.join(secret)} look(s) like a secret; a ConfigMap is readable by anyone "
            "who can read the namespace. Give secrets to the cluster as a Secret, never in the repository."
        )
    return {
        "replicas": replicas,
        "resources": resources,
        "config": {str(k): str(v) for k, v in config.items()},
    }


def app_name(deploy: str) -> str:
    """The Kubernetes name of a deploy (DNS-1123): `IrisClassifier/V1` -> `irisclassifier-v1`."""
    return re.sub(r"[^a-z0-9-]+", "-", deploy.lower().replace("/", "-")).strip("-")


def _probe(path: str, initial: int, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "initialDelaySeconds": initial,
            "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": failures}  # fmt: skip


def manifest(deploy: str, image: str, declared: dict[str, Any], pipeline: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a deploy: ConfigMap, Deployment, Service.

    Args:
        deploy: `Model/V<n>`.
        image: the image by digest (`registry/name@sha256:...`).
        declared: what `declaration` read.
        pipeline: the pipeline the deploy serves (a label and a setting).

    Returns:
        The objects, in the order `kubectl apply` wants them.
    """
    name = app_name(deploy)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "mlrepo"}
    settings = {"MLREPO_DEPLOY": deploy, "MLREPO_PIPELINE": pipeline, **declared["config"]}
    container = {
        "name": "service",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": f"{name}-config"}}],
        "readinessProbe": _probe("/readyz", 5, 5, 3),
        "livenessProbe": _probe("/livez", 30, 10, 3),
    }
    if declared["resources"]:
        container["resources"] = declared["resources"]
    annotations = {"mlrepo.deploy": deploy, "mlrepo.pipeline": pipeline}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{name}-config", "labels": labels}, "data": settings},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "labels": labels, "annotations": annotations},
         "spec": {"replicas": declared["replicas"],
                  "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                  "strategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                  "template": {"metadata": {"labels": labels, "annotations": annotations},
                               "spec": {"containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "labels": labels},
         "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": name},
                  "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}},
    ]  # fmt: skip


def local_manifest(objects: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
    """What `podman kube play` runs: the ConfigMap and the Deployment with one replica and the
    container's port published on 127.0.0.1:`port` (podman 4.3 plays no Service)."""
    import copy

    played = [copy.deepcopy(o) for o in objects if o["kind"] in ("ConfigMap", "Deployment")]
    spec = played[1]["spec"]
    spec["replicas"] = 1
    container = spec["template"]["spec"]["containers"][0]
    container["ports"][0].update(hostIP="127.0.0.1", hostPort=port)
    # Podman 4.3 turns probes into healthchecks that run curl inside the image (it has none) on
    # port 0 (a named port is not resolved), on systemd timers: `make deploy` probes from outside.
    container.pop("readinessProbe", None)
    container.pop("livenessProbe", None)
    return played


def validate(objects: list[dict[str, Any]], version: str = KUBERNETES_VERSION) -> list[str]:
    """Check each object against Kubernetes' JSON schema, strictly (no unknown field), offline.

    Returns:
        One line per problem (empty: valid).
    """
    import kubernetes_validate

    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}")
    return problems


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """The objects as one multi-document YAML file."""
    import yaml

    class Plain(yaml.SafeDumper):
        """No `&id001` anchors: kubectl reads them, people and some tools do not."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return "---\n".join(yaml.dump(o, Dumper=Plain, sort_keys=False) for o in objects)


# --- the image -----------------------------------------------------------------------------------


def _tls(image: str) -> list[str]:
    """A loopback registry speaks plain HTTP (as in ecr.sh)."""
    host = image.split("/", 1)[0]
    return ["--tls-verify=false"] if re.match(r"^(localhost|127\.0\.0\.1)(:\d+)?$", host) else []


def pushed_image(pipeline: str, uri: str) -> tuple[str, str]:
    """The image `ecr.sh` last pushed for `pipeline`: `(registry/name@digest, run id)`.

    Raises:
        UserError: no run of the pipeline carries a pushed image.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(pipeline)
    runs = []
    if experiment is not None:
        runs = client.search_runs(
            [experiment.experiment_id],
            "tags.`deploy.image_digest` LIKE 'sha256:%'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    if not runs:
        raise UserError(
            f"No run of pipeline '{pipeline}' in {uri} carries a pushed image (deploy.image_digest): "
            "push one first with `make ecr MODEL=...` (deploy/<Model>/V<n>/ecr.sh), or pass IMAGE=<ref>."
        )
    tags = runs[0].data.tags
    repository = tags["deploy.image_uri"].rsplit("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}@{tags['deploy.image_digest']}", runs[0].info.run_id


def inspect_image(image: str) -> dict[str, Any]:
    """Ask the registry for `image` (skopeo): its digest and labels.

    Raises:
        UserError: the registry does not have it, or cannot be reached.
    """
    try:
        done = subprocess.run(
            ["skopeo", "inspect", *_tls(image), f"docker://{image}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    except FileNotFoundError:
        raise UserError("skopeo is not installed: run scripts/install-podman.sh.") from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[-300:]
        raise UserError(
            f"The registry has no image {image} ({reason}). Push it first (`make ecr MODEL=...`), "
            "or pass IMAGE=<registry/name:tag or @sha256:digest> of an image it holds."
        )
    data = json.loads(done.stdout)
    return {"digest": data["Digest"], "labels": data.get("Labels") or {}}


def by_digest(image: str, digest: str) -> str:
    """`registry/name:tag` or `registry/name@sha256:...` as `registry/name@<digest>`."""
    repository = image.rsplit("@", 1)[0]
    last = repository.rsplit("/", 1)
    if ":" in last[-1]:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}@{digest}"


# --- the deploy state ------------------------------------------------------------------------


def state_dir() -> Path:
    """Where revisions and played manifests are kept (`$MLREPO_DEPLOY_STATE`, else `.mlflow/deployments`)."""
    return Path(os.environ.get("MLREPO_DEPLOY_STATE") or ROOT / ".mlflow" / "deployments")


@dataclass
class State:
    """The local target's record of one deploy: its port and its revisions (newest last).

    Attributes:
        path: the JSON file.
        port: the loopback port it is published on.
        revisions: dicts with `revision`, `image`, `run_id`, `at`, `by`, `manifest`.
        running: whether the current revision is meant to be up (False after `down`).
    """

    path: Path
    port: int
    revisions: list[dict[str, Any]]
    running: bool

    @classmethod
    def load(cls, deploy: str) -> State:
        """Read the state of `deploy` (a fresh one if none)."""
        path = state_dir() / f"{app_name(deploy)}.local.json"
        if path.is_file():
            data = json.loads(path.read_text())
            return cls(path, int(data["port"]), list(data["revisions"]), bool(data["running"]))
        return cls(path, DEFAULT_PORT, [], False)

    def save(self) -> None:
        """Write the state (atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"port": self.port, "revisions": self.revisions, "running": self.running}
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)

    @property
    def current(self) -> dict[str, Any] | None:
        """The revision last rolled out (None: never deployed)."""
        return self.revisions[-1] if self.revisions else None


# --- podman ---------------------------------------------------------------------------------


def _podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise UserError("podman is not installed: run scripts/install-podman.sh (root).") from None


def _pod(deploy: str) -> str:
    """The pod podman makes for the Deployment (`<name>-pod-0`)."""
    return f"{app_name(deploy)}-pod-0"


def _container(deploy: str) -> str:
    return f"{_pod(deploy)}-service"


def _play(path: Path, image: str) -> None:
    done = _podman("kube", "play", "--replace", *_tls(image), str(path), timeout=600)
    if done.returncode != 0:
        raise RolloutError(f"podman kube play failed: {' '.join(done.stderr.split())[-400:]}")


def _down(deploy: str, manifest_path: Path | None) -> None:
    if manifest_path is not None and manifest_path.is_file():
        _podman("kube", "down", str(manifest_path), timeout=120)
    if _podman("pod", "exists", _pod(deploy)).returncode == 0:
        _podman("pod", "rm", "-f", _pod(deploy), timeout=120)


def pod_exists(deploy: str) -> bool:
    """Whether the deploy's pod exists on this machine."""
    return _podman("pod", "exists", _pod(deploy)).returncode == 0


def _logs(deploy: str, lines: int = 8) -> str:
    done = _podman("logs", "--tail", str(lines), _container(deploy), timeout=60)
    text = " | ".join(line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip())
    return text[-600:]


class RolloutError(Exception):
    """A rollout did not become ready or failed its smoke test (the message says why)."""


def wait_ready(deploy: str, port: int, timeout: float) -> float:
    """Wait until the service answers `/readyz` with 200; return the seconds it took.

    Raises:
        RolloutError: the container exited or restarted, or the timeout passed.
    """
    start = time.monotonic()
    url = f"http://127.0.0.1:{port}/readyz"
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    ready = time.monotonic() - start
                    with urllib.request.urlopen(url.replace("/readyz", "/livez"), timeout=5):
                        return ready
        except (OSError, urllib.error.URLError):
            pass
        seen = _podman("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", _container(deploy))
        status, _, restarts = seen.stdout.strip().partition(" ")
        if seen.returncode != 0 or status in ("exited", "stopped", "dead") or restarts not in ("", "0"):
            what = f"restarted ({restarts})" if restarts not in ("", "0") else (status or "is gone")
            raise RolloutError(
                f"the container {what} before /readyz answered; its last log lines: {_logs(deploy)}"
            )
        time.sleep(0.5)
    raise RolloutError(
        f"/readyz did not answer 200 within {timeout:.0f} s; its last log lines: {_logs(deploy)}"
    )


def _cell(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def smoke(sample: Path, port: int, timeout: float = 60) -> tuple[int, float]:
    """POST the version's sample rows to `/predict`; check one prediction per row.

    Returns:
        `(rows, seconds)`: how many rows were predicted, and the request's latency.

    Raises:
        RolloutError: a status other than 200, or an answer of the wrong shape.
    """
    with sample.open(newline="") as handle:
        rows = [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    body = json.dumps({"records": rows}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=body, headers={"Content-Type": "application/json"}
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise RolloutError(
            f"the smoke test ({sample.name}, {len(rows)} rows) got HTTP {exc.code}: "
            f"{exc.read().decode()[:300]}"
        ) from None
    except OSError as exc:
        raise RolloutError(f"the smoke test could not reach /predict: {exc}") from None
    latency = time.monotonic() - start
    try:
        predictions = json.loads(text)["predictions"]
    except (ValueError, KeyError, TypeError):
        raise RolloutError(f"the smoke test's answer has no `predictions`: {text[:300]}") from None
    if not isinstance(predictions, list) or len(predictions) != len(rows):
        got = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise RolloutError(f"the smoke test sent {len(rows)} rows and got {got} predictions back")
    return len(rows), latency


# --- rollouts -------------------------------------------------------------------------------


@dataclass
class Context:
    """What every deploy command needs about the version."""

    deploy: str
    folder: Path
    pipeline: str
    uri: str
    branch: str


def context(deploy: str, branch: str = "development") -> Context:
    """Check the deploy exists; find its pipeline and tracking store.

    Raises:
        UserError: no such deploy folder (lists the deploys there are).
    """
    from mlrepo.ship import deploy as shipping

    if not re.match(r"^[A-Za-z][A-Za-z0-9]*/V[1-9][0-9]*$", deploy or ""):
        raise UserError(
            f"MODEL={deploy!r} is not <Model>/V<n>. Available deploys: "
            f"{', '.join(shipping.available_deploys()) or 'none'}."
        )
    common = shipping.load_common(deploy)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or shipping.pipeline_setup(common.PIPELINE, branch)[0]
    return Context(deploy, shipping.DEPLOY_DIR / deploy, common.PIPELINE, uri, branch)


def resolve(ctx: Context, image: str | None, ask: bool = True) -> tuple[str, str]:
    """The image to run, by digest, and the run it was made from (its `mlflow.run_id` label).

    Args:
        ctx: the deploy.
        image: a reference (default: what ecr.sh last pushed for the pipeline).
        ask: ask the registry even when the reference is already a digest (False: only for a
            tag, so that writing a manifest for ECR needs no registry credential here).

    Raises:
        UserError: no pushed image, or the registry does not have it.
    """
    run_id = ""
    if image is None:
        image, run_id = pushed_image(ctx.pipeline, ctx.uri)
    if not ask and DIGEST.match(image):
        return image, run_id
    seen = inspect_image(image)
    return by_digest(image, seen["digest"]), seen["labels"].get("mlflow.run_id", run_id)


def _record(ctx: Context, run_id: str, tags: dict[str, str]) -> None:
    """Set `deployment.local.*` tags on the image's run (what `trace` reads)."""
    if not run_id:
        return
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(ctx.uri)
    try:
        for key, value in tags.items():
            client.set_tag(run_id, f"deployment.local.{key}", value)
    except MlflowException:
        pass  # an image made from a run of another store: the state file still holds it


def _step(text: str) -> None:
    """Progress, on stderr (stdout holds the one-line result)."""
    import sys

    print(f"deploy: {text}", file=sys.stderr, flush=True)


def _rollout(ctx: Context, state: State, revision: dict[str, Any], timeout: float) -> tuple[float, float]:
    """Play one revision's manifest, wait for readiness, smoke-test it; `(ready_s, predict_s)`."""
    _step(f"playing revision {revision['revision']} of {ctx.deploy}: {revision['image']}")
    _play(Path(revision["manifest"]), revision["image"])
    _step(f"waiting for http://127.0.0.1:{state.port}/readyz (at most {timeout:.0f} s)")
    ready = wait_ready(ctx.deploy, state.port, timeout)
    _step(f"smoke test: {ctx.folder.name}/sample-input.csv to /predict")
    _, latency = smoke(ctx.folder / "sample-input.csv", state.port)
    return ready, latency


def _write_manifest(ctx: Context, state: State, image: str, number: int) -> Path:
    objects = manifest(ctx.deploy, image, declaration(ctx.deploy), ctx.pipeline)
    problems = validate(objects)
    if problems:
        raise UserError(f"The manifest of {ctx.deploy} is not valid Kubernetes: {'; '.join(problems)}.")
    path = state.path.parent / f"{app_name(ctx.deploy)}.r{number}.kube.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(local_manifest(objects, state.port)))
    return path


@contextlib.contextmanager
def locked(deploy: str) -> Iterator[None]:
    """One rollout, rollback or undeploy of a deploy at a time on this machine (a file lock)."""
    import fcntl

    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{app_name(deploy)}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"Another deploy, rollback or undeploy of {deploy} is running on this machine; "
                "wait for it to finish, then run this again."
            ) from None
        yield


def up(ctx: Context, image: str | None, port: int | None, timeout: float, *, rollback: bool = False) -> str:
    """Roll out `image` (default: the pushed one); on failure go back to the previous revision.

    Returns:
        What was done, in one line.

    Raises:
        UserError: a mistake (no image, bad declaration, nothing to roll back to): nothing changed.
        RolloutError: the new revision failed; the message says why and what runs now.
    """
    state = State.load(ctx.deploy)
    previous = state.current if state.running else None
    if rollback:
        if len(state.revisions) < 2:
            raise UserError(f"{ctx.deploy} has no earlier revision to roll back to (make deploy first).")
        earlier = state.revisions[-2]
        image, run_id = earlier["image"], earlier["run_id"]
    else:
        image, run_id = resolve(ctx, image)
    if port is not None and port != state.port:
        if previous is not None:
            _down(ctx.deploy, Path(previous["manifest"]))
            previous = None
        state.port = port
    number = (state.current["revision"] + 1) if state.current else 1
    revision = {"revision": number, "image": image, "run_id": run_id, "by": _who(),
                "manifest": str(_write_manifest(ctx, state, image, number))}  # fmt: skip
    started = time.monotonic()
    try:
        ready, latency = _rollout(ctx, state, revision, timeout)
    except RolloutError as exc:
        raise RolloutError(_failed(ctx, state, revision, previous, timeout, str(exc))) from None
    revision["at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if previous is not None and previous["run_id"] and previous["run_id"] != run_id:
        _record(ctx, previous["run_id"], {"status": f"replaced by revision {number}"})
    state.revisions.append(revision)
    state.running = True
    state.save()
    endpoint = f"http://127.0.0.1:{state.port}"
    _record(ctx, run_id, {"image": image, "endpoint": endpoint, "at": revision["at"], "by": revision["by"],
                          "status": "running", "deploy": ctx.deploy, "revision": str(number)})  # fmt: skip
    verb = "rolled back" if rollback else "deployed"
    return (
        f"{verb} {ctx.deploy} revision {number}: {image} at {endpoint} "
        f"(ready in {time.monotonic() - started:.1f} s, /readyz {ready:.1f} s; "
        f"first prediction {latency * 1000:.0f} ms)"
    )


def _failed(
    ctx: Context, state: State, revision: dict, previous: dict | None, timeout: float, why: str
) -> str:
    """Go back to `previous` (or stop); the one paragraph that says what happened."""
    head = f"The rollout of {revision['image']} for {ctx.deploy} failed: {why.rstrip('.')}."
    if previous is None:
        _down(ctx.deploy, Path(revision["manifest"]))
        state.running = False
        state.save()
        return f"{head} Nothing was running before it, so it was stopped; nothing runs now."
    try:
        _rollout(ctx, state, previous, timeout)
    except RolloutError as again:
        _down(ctx.deploy, Path(previous["manifest"]))
        state.running = False
        state.save()
        return f"{head} Going back to revision {previous['revision']} failed too ({again}); nothing runs now."
    return (
        f"{head} Rolled back to revision {previous['revision']} ({previous['image']}), which is ready "
        f"and answers at http://127.0.0.1:{state.port}. Fix the image and deploy again."
    )


def down(ctx: Context) -> str:
    """Stop the deploy's pod (safe to repeat); the revisions stay for a later deploy or rollback."""
    state = State.load(ctx.deploy)
    current = state.current
    was = pod_exists(ctx.deploy)
    _down(ctx.deploy, Path(current["manifest"]) if current else None)
    if current is not None and state.running:
        _record(
            ctx,
            current["run_id"],
            {"status": "stopped", "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
    state.running = False
    if current is not None:
        state.save()
    return f"undeployed {ctx.deploy}" if was else f"{ctx.deploy} was not running: nothing to stop"


def _who() -> str:
    try:
        name = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=10)
        if name.returncode == 0 and name.stdout.strip():
            return name.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return getpass.getuser()


# --- the command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `python -m mlrepo deploy ...` sub-commands."""
    sub = parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("manifest", "print (or --out) the deploy's Kubernetes manifest, validated offline"),
        ("declare", "write the deploy's deploy.yaml from the template when it has none"),
        ("up", "roll out the pushed image on podman (127.0.0.1), check it, roll back on failure"),
        ("rollback", "go back to the revision before the current one"),
        ("down", "stop the deploy (safe to repeat)"),
        ("status", "the deploy's revisions and whether it runs"),
    ):
        one = sub.add_parser(action, help=text)
        one.add_argument("--model", required=True, help="the deploy, <Model>/V<n>")
        one.add_argument("--branch", default="development", help="the super-branch whose store is read")
        if action in ("manifest", "up"):
            one.add_argument("--image", default=None, help="an image ref (default: what ecr.sh pushed)")
        if action == "manifest":
            one.add_argument("--out", type=Path, default=None, help="write it here instead of printing")
            one.add_argument("--local", action="store_true", help="what podman plays (loopback port)")
        if action in ("up", "rollback"):
            one.add_argument("--port", type=int, default=None, help=f"loopback port (default {DEFAULT_PORT})")
            one.add_argument("--timeout", type=float, default=180, help="seconds to wait for /readyz")
        if action in ("up", "rollback", "down", "status"):
            one.add_argument("--target", default="local", choices=("local",), help="where it runs")


def run(args: argparse.Namespace) -> int:
    """Run one `deploy` sub-command; a failed rollout prints its paragraph and returns 1."""
    import sys

    if args.action == "declare":
        ctx_path = context(args.model, args.branch).folder / DECLARATION
        if ctx_path.exists():
            print(f"{ctx_path.relative_to(ROOT)} exists: left as it is")
            return 0
        ctx_path.write_text(declare_text(args.model))
        print(f"wrote {ctx_path.relative_to(ROOT)}")
        return 0
    ctx = context(args.model, args.branch)
    if args.action == "manifest":
        declared = declaration(args.model)
        image = resolve(ctx, args.image, ask=False)[0]
        objects = manifest(args.model, image, declared, ctx.pipeline)
        problems = validate(objects)
        if problems:
            raise UserError(f"The manifest of {args.model} is not valid Kubernetes: {'; '.join(problems)}.")
        text = to_yaml(local_manifest(objects, State.load(args.model).port) if args.local else objects)
        if args.out:
            args.out.write_text(text)
            print(
                f"wrote {args.out} (valid for Kubernetes {KUBERNETES_VERSION}): kubectl apply -f {args.out}"
            )
        else:
            print(text, end="")
        return 0
    if args.action == "status":
        state = State.load(args.model)
        for r in state.revisions:
            print(
                f"revision {r['revision']}  {r['image']}  run {r['run_id'] or '?'}  "
                f"{r.get('at', '')}  {r['by']}"
            )
        print(
            f"{args.model}: {f'running at http://127.0.0.1:{state.port}' if state.running else 'not running'}"
        )
        return 0
    if args.action == "down":
        with locked(args.model):
            print(down(ctx))
        return 0
    try:
        with locked(args.model):
            print(
                up(
                    ctx,
                    getattr(args, "image", None),
                    args.port,
                    args.timeout,
                    rollback=args.action == "rollback",
                )
            )
    except RolloutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m mlrepo.ship.kube ...` (the same as `python -m mlrepo deploy ...`)."""
    parser = argparse.ArgumentParser(prog="python -m mlrepo deploy", description=__doc__.split("\n")[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except UserError as exc:
        import sys

        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
