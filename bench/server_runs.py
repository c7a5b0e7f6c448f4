"""`python -m train runs` against the team tracking server with 10 000 runs: under 2 s?

Seeds N runs (tags, params, metrics, as the runner writes them) straight into the server's
PostgreSQL in one transaction (writing them through the API would take minutes and is what
bench/server_load.py measures), then times `python -m train runs --limit N` against the server,
logged in with MLFLOW_TRACKING_USERNAME/PASSWORD; prints the seconds and the rows listed.

    .venv/bin/python bench/server_runs.py --uri http://127.0.0.1:5050 \\
        --db postgresql://mlflow@127.0.0.1:5433/mlflow [--runs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "server_runs"


def seed(uri: str, db: str, count: int) -> str:
    """Create the experiment through the API, then `count` FINISHED runs in it by SQL; its id."""
    import psycopg2
    from mlflow.tracking import MlflowClient
    from psycopg2.extras import execute_values

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    exp_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    now = int(time.time() * 1000)
    runs, tags, params, metrics = [], [], [], []
    for i in range(count):
        rid = uuid.uuid4().hex
        start = now - i * 1000
        runs.append((rid, f"run-{i}", "LOCAL", "bench", "", "bench", "FINISHED", start, start + 500, "",
                     "active", f"mlflow-artifacts:/{exp_id}/{rid}/artifacts", int(exp_id)))  # fmt: skip
        tags += [
            ("pipeline", EXPERIMENT, rid),
            ("run.uid", uuid.uuid4().hex, rid),
            ("run.changed", f"model.C={i}", rid),
        ]
        params += [("pipeline.metric", "accuracy", rid), ("model.C", str(i), rid)]
        metrics.append(("accuracy", 0.5 + (i % 500) / 1000, start, 0, False, rid))
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        execute_values(
            cur,
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES %s",
            runs,
        )
        execute_values(cur, "INSERT INTO tags (key, value, run_uuid) VALUES %s", tags)
        execute_values(cur, "INSERT INTO params (key, value, run_uuid) VALUES %s", params)
        execute_values(
            cur, "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES %s", metrics
        )
        execute_values(
            cur,
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES %s",
            metrics,
        )
    return exp_id


def time_listing(uri: str, count: int) -> tuple[float, int]:
    """Seconds `python -m train runs --limit count` takes, and the rows it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "train", "runs", "--uri", uri, "--pipeline", EXPERIMENT,
         "--limit", str(count)],
        cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=300,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"python -m train runs failed: {done.stderr[-2000:]}")
    return seconds, len(done.stdout.splitlines()) - 1


def main(argv: list[str] | None = None) -> int:
    """Seed, time the listing `--repeat` times, print the figures; exit 1 when over 2 s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument(
        "--db", required=True, help="the server's PostgreSQL (postgresql://user@host:port/db)"
    )
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seed(args.uri, args.db, args.runs)
    print(f"seeded {args.runs} runs in {time.perf_counter() - started:.1f} s")
    best = None
    for _ in range(args.repeat):
        seconds, rows = time_listing(args.uri, args.runs)
        print(f"python -m train runs --limit {args.runs}: {rows} rows in {seconds:.2f} s")
        best = seconds if best is None else min(best, seconds)
    print(f"best of {args.repeat}: {best:.2f} s (target < 2 s)")
    return 0 if best < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
