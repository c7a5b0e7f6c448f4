"""Parallel writers against the team tracking server: none may be lost, none may fail.

W processes each write R complete runs (tags, params, a metric batch, FINISHED) through
MLflow's client, as sweep jobs do, logged in with MLFLOW_TRACKING_USERNAME/PASSWORD. The
writers import MLflow first and start together; prints runs/s, runs found against runs
written (target: 0 lost) and the writers' errors (target: 0). Exit 1 when any is lost.

    MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=... \\
        .venv/bin/python bench/server_load.py --uri http://127.0.0.1:5050 [--writers 8] [--runs 25]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
import uuid


def writer(uri: str, exp_id: str, batch: str, worker: int, count: int, ready, errors) -> None:
    """Write `count` runs once every writer is ready; count the failures in `errors`."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    ready.wait()
    for i in range(count):
        try:
            run = client.create_run(exp_id, tags={"load.batch": batch, "load.writer": str(worker)})
            now = int(time.time() * 1000)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric("accuracy", 0.9 + i / 1000, now, 0), Metric("loss", 1 / (i + 1), now, 0)],
                params=[Param("model.C", str(i)), Param("worker", str(worker))],
                tags=[RunTag("load.i", str(i))],
            )
            client.set_terminated(run.info.run_id, "FINISHED")
        except Exception as exc:  # counted and shown: the bench's target is zero
            with errors.get_lock():
                errors.value += 1
            print(f"writer {worker} run {i}: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the figures; return 1 when a run was lost or a writer failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--experiment", default="server_load")
    args = parser.parse_args(argv)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(args.uri)
    found = client.get_experiment_by_name(args.experiment)
    exp_id = found.experiment_id if found else client.create_experiment(args.experiment)
    batch = uuid.uuid4().hex[:12]
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(args.writers + 1)
    errors = ctx.Value("i", 0)
    procs = [
        ctx.Process(target=writer, args=(args.uri, exp_id, batch, w, args.runs, ready, errors))
        for w in range(args.writers)
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    written = args.writers * args.runs
    runs = client.search_runs(
        [exp_id], f"tags.`load.batch` = '{batch}' and attributes.status = 'FINISHED'", max_results=50000
    )
    complete = [r for r in runs if {"accuracy", "loss"} <= set(r.data.metrics) and len(r.data.params) == 2]
    lost = written - len(complete)
    print(
        f"server load: {args.writers} writers x {args.runs} runs = {written} runs in {seconds:.1f} s "
        f"({written / seconds:.1f} runs/s); found {len(complete)} complete, lost {lost}, "
        f"errors {errors.value}"
    )
    return 1 if lost or errors.value else 0


if __name__ == "__main__":
    sys.exit(main())
