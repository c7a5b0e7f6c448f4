"""Deploy benchmark: how long `make deploy` takes from the command to a ready, smoke-tested
service, and the first prediction's latency, beside a bare `podman run` of the same image
(the container's own start-to-/readyz time, the floor `make deploy` builds on).

    .venv/bin/python bench/deploy.py [--rounds 3] [--image REF]     # or: make bench-deploy

Without `--image`, it makes what CI makes: a local registry and ECR API on loopback, an Iris run
in a throwaway store, and `ecr.sh --backend podman` pushing V1's image (not timed). Each round
then times a bare `podman run -p 127.0.0.1:PORT:3000` until `/readyz` answers, and
`make deploy IMAGE=<digest>` (manifest, validation, `podman kube play --replace`, `/readyz`,
`/livez`, the sample-input smoke test, the run's tags) until it exits. Rounds after the first
replace a running revision, as a real rollout does. Prints each figure's median and the ratio
`make deploy` / bare start. Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = "IrisClassifier/V1"
PYTHON = sys.executable
POD = "irisclassifier-v1-pod-0"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ok(url: str, timeout: float = 180) -> float:
    """Seconds until `url` answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        time.sleep(0.2)
    raise TimeoutError(url)


@contextlib.contextmanager
def background(args: list[str], log: Path) -> Iterator[None]:
    """Run a server in its own process group; stop the group on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextlib.contextmanager
def pushed_image(tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A local registry and ECR API, an Iris run, V1's image pushed by ecr.sh: `(image, env)`."""
    registry, ecr = free_port(), free_port()
    (tmp / "registry").mkdir()
    (tmp / "registry.yml").write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'registry'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{registry}}}\n"
    )
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp / "bentoml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONPATH": str(ROOT),
        "MLREPO_DEPLOY_STATE": str(tmp / "state"),
        "PYTHON": PYTHON,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ecr}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # pragma: allowlist secret
        "AWS_REGION": "us-east-1",
        "ECR_REGISTRY": f"localhost:{registry}",
    }
    moto = str(Path(PYTHON).parent / "moto_server")
    with (
        background(["docker-registry", "serve", str(tmp / "registry.yml")], tmp / "registry.log"),
        background([moto, "-H", "127.0.0.1", "-p", str(ecr)], tmp / "moto.log"),
    ):
        wait_ok(f"http://127.0.0.1:{registry}/v2/", 30)
        wait_ok(f"http://127.0.0.1:{ecr}/moto-api/", 60)
        subprocess.run(
            [PYTHON, "-m", "train", "pipeline=train_iris"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        done = subprocess.run(
            [
                "bash",
                f"deploy/{DEPLOY}/ecr.sh",
                "--backend",
                "podman",
                "--ecr-name",
                "iris-bench",
                "--tag",
                "bench",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        digest = done.stdout.split("digest: ")[1].split()[0]
        yield f"localhost:{registry}/iris-bench@{digest}", env


def bare_start(image: str, port: int) -> float:
    """Seconds from `podman run` to /readyz of the image, run directly."""
    name = "bench-bare-" + str(port)
    start = time.monotonic()
    subprocess.run(
        [
            "podman",
            "run",
            "-d",
            "--rm",
            "--name",
            name,
            "--tls-verify=false",
            "-p",
            f"127.0.0.1:{port}:3000",
            image,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    try:
        wait_ok(f"http://127.0.0.1:{port}/readyz")
        return time.monotonic() - start
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "2", name], capture_output=True, timeout=120)


def make_deploy(image: str, port: int, env: dict[str, str]) -> tuple[float, float]:
    """`(wall seconds, first prediction seconds)` of one `make deploy`."""
    start = time.monotonic()
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.synced",
            "deploy",
            f"MODEL={DEPLOY}",
            f"IMAGE={image}",
            f"DEPLOY_PORT={port}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    first = float(re.search(r"first prediction (\d+) ms", done.stdout).group(1)) / 1000
    return wall, first


def main() -> int:
    """Run the benchmark; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", default=None, help="an image in a registry (default: push one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        tmp = Path(scratch)
        if args.image:
            image, env = args.image, {**os.environ, "MLREPO_DEPLOY_STATE": str(tmp / "state")}
        else:
            print("setting up: registry, ECR API, an Iris run, ecr.sh push (not timed)", flush=True)
            image, env = stack.enter_context(pushed_image(tmp))
        subprocess.run(["podman", "pull", "-q", "--tls-verify=false", image], capture_output=True, check=True)
        port = free_port()
        bare, walls, firsts = [], [], []
        try:
            for round_ in range(args.rounds):
                bare.append(bare_start(image, free_port()))
                wall, first = make_deploy(image, port, env)
                walls.append(wall)
                firsts.append(first)
                print(
                    f"round {round_ + 1}: bare podman run -> /readyz {bare[-1]:.2f} s; make deploy -> ready "
                    f"and smoke-tested {wall:.2f} s; first prediction {first * 1000:.0f} ms",
                    flush=True,
                )
        finally:
            subprocess.run(
                ["make", "--no-print-directory", "-o", ".venv/.synced", "undeploy", f"MODEL={DEPLOY}"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                timeout=300,
            )
            subprocess.run(["podman", "pod", "rm", "-f", POD], capture_output=True, timeout=120)
            repository = image.split("@")[0]  # localhost:PORT/iris-bench
            listed = subprocess.run(
                ["podman", "images", "--format", "{{.ID}} {{.Repository}}"],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            ids = {line.split()[0] for line in listed.splitlines() if line.split()[-1] == repository}
            if ids and not args.image:  # what it pushed and pulled; an --image given is left alone
                subprocess.run(["podman", "rmi", "-f", *ids], capture_output=True, timeout=120)
    b, w, f = statistics.median(bare), statistics.median(walls), statistics.median(firsts)
    print(
        f"median of {args.rounds}: bare start {b:.2f} s | make deploy {w:.2f} s | first prediction "
        f"{f * 1000:.0f} ms | make deploy / bare start = {w / b:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
