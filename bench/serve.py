"""Serving benchmark: the same Iris run served by the deploy's BentoML service and by
`mlflow models serve`, beside a BentoML endpoint that returns a constant (the HTTP layer's
ceiling on this machine).

    .venv/bin/python bench/serve.py [--requests 20000] [--max-seconds 120]   # or: make bench-serve

Trains Iris into a throwaway store, imports it into a throwaway BentoML home, starts the three
servers on loopback (one worker each, their defaults; the constant endpoint has the same
service options as the deploy), and drives each with an asyncio/aiohttp load generator at
concurrency 1 and 32, one record per request, bounded in count and time, in alternating rounds.
Prints requests/s, p50 and p99 latency and errors (non-200 answers, wrong predictions,
exceptions), and the ratios. Targets at concurrency 32: throughput >= 0.7x the constant
endpoint and >= 2.5x mlflow's, p99 <= mlflow's p99, 0 errors in 20 000 requests.
The load generator shares the machine with the server: on a busy machine the figures say so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "IrisClassifier" / "V1"
PYTHON = sys.executable
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = [([5.1, 3.5, 1.4, 0.2], "setosa"), ([6.7, 3.0, 5.2, 2.3], "virginica")]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until `url` answers 200, or fail if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server and its children (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bento_body(values: list[float]) -> bytes:
    """A /predict body for the Bento service."""
    return json.dumps({"records": [dict(zip(COLUMNS, values, strict=True))]}).encode()


def mlflow_body(values: list[float]) -> bytes:
    """An /invocations body for `mlflow models serve`."""
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [values]}}).encode()


async def load(url: str, bodies: list[tuple[bytes, str]], concurrency: int, total: int, max_s: float) -> dict:
    """Send up to `total` requests with `concurrency` in flight, for at most `max_s` seconds.

    Returns:
        latencies (s), errors, seconds.
    """
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + max_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Content-Type": "application/json"}

    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total and time.monotonic() < deadline:
                body, expected = bodies[sent % len(bodies)]
                sent += 1
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        text = await response.text()
                        ok = response.status == 200 and expected in text
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "seconds": seconds}


def summary(parts: list[dict]) -> dict:
    """requests, seconds, req_s, p50_ms, p99_ms, errors over several measurements."""
    latencies = sorted(x for part in parts for x in part["latencies"])
    seconds = sum(part["seconds"] for part in parts)

    def pct(q: float) -> float:
        return (
            1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
        )

    errors = sum(part["errors"] for part in parts)
    return {"requests": len(latencies), "seconds": seconds, "req_s": len(latencies) / seconds,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": errors}  # fmt: skip


CONSTANT_SERVICE = """
import bentoml

from mlrepo.ship import serving


@bentoml.service(**serving.SERVICE_CONFIG)
class Constant:
    @serving.json_answers
    @bentoml.api(route="/predict")
    async def predict(self, records: list[dict]) -> dict:
        return {"predictions": ["setosa"], "timestamp": "2026-01-01T00:00:00.000+00:00", "model": "constant"}
"""
"""The HTTP layer's ceiling: BentoML parsing a body of records and answering a constant, with the
service options and the JSON media type the deploys use (so the ceiling is the best it can do)."""


def prepare(tmp: Path) -> tuple[dict[str, str], str]:
    """Train Iris into a throwaway store and import it into a throwaway BentoML home."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}
    # `mlflow models serve` starts `uvicorn` by name: the environment's bin/ must be on PATH.
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        BENTOML_HOME=str(tmp / "bentoml"), MLFLOW_DISABLE_TELEMETRY="true", BENTOML_DO_NOT_TRACK="true"
    )
    env["PYTHONPATH"] = str(ROOT)  # a deploy's service.py imports mlrepo.ship.serving
    (tmp / "constant").mkdir()
    (tmp / "constant" / "service.py").write_text(CONSTANT_SERVICE)
    subprocess.run(
        [PYTHON, "-m", "train", "pipeline=train_iris"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    out = tmp / "model.env"
    subprocess.run(
        [PYTHON, str(DEPLOY / "create_bento_model.py"), "--output-env", str(out)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    run_id = dict(line.split("=", 1) for line in out.read_text().splitlines())["RUN_ID"]
    return env, run_id


def main() -> int:
    """Run the benchmark and print one line per server and concurrency."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests at concurrency 32")
    parser.add_argument("--requests-c1", type=int, default=2000, help="requests at concurrency 1")
    parser.add_argument(
        "--max-seconds", type=float, default=300, help="time bound per server and concurrency"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per concurrency")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        env, run_id = prepare(tmp)
        bento_port, mlflow_port, constant_port = free_port(), free_port(), free_port()
        bento, mlflow = f"http://127.0.0.1:{bento_port}", f"http://127.0.0.1:{mlflow_port}"
        constant = f"http://127.0.0.1:{constant_port}"
        servers = {
            "constant": (
                [
                    PYTHON,
                    "-m",
                    "bentoml",
                    "serve",
                    "service:Constant",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(constant_port),
                ],  # fmt: skip
                tmp / "constant",
                f"{constant}/readyz",
                f"{constant}/predict",
                bento_body,
            ),
            "bentoml": (
                [
                    PYTHON,
                    "-m",
                    "bentoml",
                    "serve",
                    "service:IrisClassifier",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bento_port),
                ],
                DEPLOY,
                f"{bento}/readyz",
                f"{bento}/predict",
                bento_body,
            ),
            "mlflow": (
                [
                    PYTHON,
                    "-m",
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    f"runs:/{run_id}/model",
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(mlflow_port),
                ],
                ROOT,
                f"{mlflow}/ping",
                f"{mlflow}/invocations",
                mlflow_body,
            ),
        }
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        procs, logs = [], []
        try:
            for name, (cmd, cwd, ready, _, _) in servers.items():
                logs.append(open(tmp / f"{name}.log", "wb"))
                out = {"stdout": logs[-1], "stderr": subprocess.STDOUT}
                procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True, **out))
                wait_ready(ready, procs[-1])
            bodies = {name: [(spec[4](v), label) for v, label in ROWS] for name, spec in servers.items()}
            # The constant endpoint has no model: any answer with predictions is right.
            bodies["constant"] = [(body, "predictions") for body, _ in bodies["constant"]]
            for name, spec in servers.items():
                asyncio.run(load(spec[3], bodies[name], 8, 300, 30))  # warm-up
            results: dict[tuple[str, int], dict] = {}
            # Both servers are measured in alternating rounds, so that a change in the machine's
            # load (it is shared) weighs on both alike.
            for concurrency, total in ((1, args.requests_c1), (32, args.requests)):
                parts: dict[str, list] = {name: [] for name in servers}
                for _ in range(args.rounds):
                    for name, spec in servers.items():
                        chunk = total // args.rounds
                        parts[name].append(asyncio.run(load(spec[3], bodies[name], concurrency, chunk,
                                                            args.max_seconds / args.rounds)))  # fmt: skip
                for name in servers:
                    result = results[(name, concurrency)] = summary(parts[name])
                    print(
                        f"{name:8s} c={concurrency:<3d} {result['requests']:6d} requests in "
                        f"{result['seconds']:6.1f} s  {result['req_s']:7.1f} req/s  "
                        f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                        f"errors {result['errors']}",
                        flush=True,
                    )
        finally:
            for proc in procs:
                stop(proc)
            for log in logs:
                log.close()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        ours, theirs, ceiling = (results[(name, 32)] for name in ("bentoml", "mlflow", "constant"))
        print(f"c=32: bentoml/constant throughput {ours['req_s'] / ceiling['req_s']:.2f}x (target >= 0.7x)")
        print(f"c=32: bentoml/mlflow throughput {ours['req_s'] / theirs['req_s']:.2f}x (target >= 2.5x)")
        print(
            f"c=32: bentoml p99 {ours['p99_ms']:.1f} ms / mlflow p99 {theirs['p99_ms']:.1f} ms = "
            f"{ours['p99_ms'] / theirs['p99_ms']:.2f}x (target <= 1x)"
        )
        print(f"c=32: bentoml errors {ours['errors']} in {ours['requests']} (target 0 in 20000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
