"""What a cached hit costs: `python -m train pipeline=train_iris` when the same run already FINISHED.

Trains once (mode=force, timed), then times the cached hit of the same command. Prints the
medians, the cached hit's whole-process wall time (target <= 1.5 s) and its ratio to the real
training run (target <= 0.25).

    .venv/bin/python bench/cached_hit.py [--repeat 5]
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


def wall(cmd: list[str], env: dict[str, str], expect: str) -> float:
    """Run `cmd` from the repository root; return its wall time; fail loudly on a surprise."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or expect not in done.stdout:
        sys.exit(
            f"{' '.join(cmd)}: expected {expect!r}, got rc={done.returncode}\n"
            f"{done.stdout}{done.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "train", "pipeline=train_iris"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        wall([*cmd, "mode=force"], env, "FINISHED")  # warm-up: schema, experiment, a finished run
        trained, cached = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            trained.append(wall([*cmd, "mode=force"], env, "FINISHED in"))
            cached.append(wall(cmd, env, "Cached: run"))
    t, c = statistics.median(trained), statistics.median(cached)
    print(f"training run (mode=force)     median of {args.repeat}: {t:6.2f} s")
    print(f"cached hit (mode=cached)      median of {args.repeat}: {c:6.2f} s   (target <= 1.5 s)")
    print(f"ratio cached / training: {c / t:.3f}   (target <= 0.25)")


if __name__ == "__main__":
    main()
