"""`python -m train runs` against the team tracking server with 10 000 runs: under 2 s?

Seeds N runs (tags, params, metrics, as the runner writes them) straight into the server's
PostgreSQL in one transaction, in an experiment of its own (writing them through the API would
take minutes and is what bench/server_load.py measures), then times `python -m train runs
--limit N` against the server, logged in with MLFLOW_TRACKING_USERNAME/PASSWORD:

1. `--refresh`: every run fetched page by page through the REST API (the baseline, and what
   the first listing of a checkout costs);
2. the same listing again, `--repeat` times: the local run index (mlrepo/server/index.py) asks
   only for what changed;
3. after 20 more runs ended: the index fetches those 20.

Prints the seconds and rows of each, and the ratio of the baseline to the index; the seeded
experiment and its runs are deleted at the end.

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
EXPERIMENT = f"server_runs_{int(time.time())}"


def seed(uri: str, db: str, count: int, first: int = 0) -> str:
    """Create the experiment through the API (once), then `count` FINISHED runs in it by SQL; its id."""
    import psycopg2
    from mlflow.tracking import MlflowClient
    from psycopg2.extras import execute_values

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    exp_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    now = int(time.time() * 1000)
    runs, tags, params, metrics = [], [], [], []
    for i in range(first, first + count):
        rid = uuid.uuid4().hex
        start = now - (first + count - i) * 1000
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


def drop(db: str, exp_id: str) -> None:
    """Delete the seeded experiment's runs and the experiment, by SQL."""
    import psycopg2

    ids = "SELECT run_uuid FROM runs WHERE experiment_id = %s"
    with psycopg2.connect(db) as conn, conn.cursor() as cur:
        for table in ("tags", "params", "metrics", "latest_metrics"):
            cur.execute(f"DELETE FROM {table} WHERE run_uuid IN ({ids})", (int(exp_id),))
        cur.execute("DELETE FROM runs WHERE experiment_id = %s", (int(exp_id),))
        cur.execute("DELETE FROM experiment_tags WHERE experiment_id = %s", (int(exp_id),))
        cur.execute("DELETE FROM experiments WHERE experiment_id = %s", (int(exp_id),))


def time_listing(uri: str, count: int, *extra: str) -> tuple[float, int]:
    """Seconds `python -m train runs --limit count` takes, and the rows it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "train", "runs", "--uri", uri, "--pipeline", EXPERIMENT,
         "--limit", str(count), *extra],
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
    exp_id = seed(args.uri, args.db, args.runs)
    print(f"seeded {args.runs} runs in {time.perf_counter() - started:.1f} s (experiment {EXPERIMENT})")
    try:
        full, rows = time_listing(args.uri, args.runs, "--refresh")
        print(f"--refresh (every run through the REST API): {rows} rows in {full:.2f} s")
        best = None
        for _ in range(args.repeat):
            seconds, rows = time_listing(args.uri, args.runs)
            print(f"from the run index, nothing changed:        {rows} rows in {seconds:.2f} s")
            best = seconds if best is None else min(best, seconds)
        seed(args.uri, args.db, 20, first=args.runs)
        changed, rows = time_listing(args.uri, args.runs + 20)
        print(f"from the run index, 20 runs ended since:    {rows} rows in {changed:.2f} s")
    finally:
        drop(args.db, exp_id)
    worst = max(best, changed)
    print(f"the index lists {args.runs} runs {full / worst:.1f}x faster than fetching them all "
          f"({worst:.2f} s vs {full:.2f} s; target < 2 s)")  # fmt: skip
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
