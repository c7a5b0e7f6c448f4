"""A sweep of 8 Iris jobs with `launcher=local` (forked, warm workers) against the same 8 sequentially.

Both are `python -m train -m pipeline=train_iris model.C=<8 values> mode=force` into one
throwaway SQLite store; `launcher=sequential` runs the jobs one after the other in one process.
Also times the same 8 trainings as 8 separate `python -m train` commands (no sweep at all).
Prints the wall times and the speed-ups (target >= 1.7 on 2 cores).

    .venv/bin/python bench/sweep.py [--jobs 8] [--repeat 1]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sweep(launcher: str, jobs: int, env: dict[str, str], outputs: str) -> float:
    """Run the sweep with `launcher`; return its wall time; fail loudly if a job failed."""
    values = ",".join(f"{0.1 * (i + 1):.1f}" for i in range(jobs))
    cmd = [sys.executable, "-m", "train", "-m", "pipeline=train_iris", f"model.C={values}", "mode=force",
           f"launcher={launcher}", f"paths.outputs={outputs}"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or f"{jobs}/{jobs} jobs done" not in done.stderr:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def separate(jobs: int, env: dict[str, str]) -> float:
    """Run the same trainings as separate `python -m train` commands; return the total wall time."""
    start = time.perf_counter()
    for i in range(jobs):
        cmd = [
            sys.executable,
            "-m",
            "train",
            "pipeline=train_iris",
            f"model.C={0.1 * (i + 1):.1f}",
            "mode=force",
        ]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        sweep("sequential", 1, env, tmp)  # warm-up: schema and experiment
        local, sequential, apart = [], [], []
        for _ in range(args.repeat):
            local.append(sweep("local", args.jobs, env, tmp))
            sequential.append(sweep("sequential", args.jobs, env, tmp))
            apart.append(separate(args.jobs, env))
    par, seq, sep = statistics.median(local), statistics.median(sequential), statistics.median(apart)
    print(f"{args.jobs} Iris jobs, {os.cpu_count()} cores, median of {args.repeat}")
    print(f"launcher=local (forked warm workers)       {par:6.1f} s")
    print(
        f"launcher=sequential (one process)          {seq:6.1f} s   speed-up {seq / par:.2f} (target >= 1.7)"
    )
    print(f"{args.jobs} separate `python -m train` commands   {sep:6.1f} s   speed-up {sep / par:.2f}")


if __name__ == "__main__":
    main()
