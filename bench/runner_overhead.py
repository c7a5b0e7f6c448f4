"""What the runner costs: `python -m train pipeline=train_iris` against a bare script.

Both train the same Iris model and log the same things into one throwaway SQLite store
(schema created beforehand). Prints the median wall time of each over N runs, their ratio
(target <= 1.15), and the wall time of `python -m train --help` (target < 1.5 s).

    .venv/bin/python bench/runner_overhead.py [--repeat 5]
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


def wall(cmd: list[str], env: dict[str, str]) -> float:
    """Run `cmd` from the repository root and return its wall time; fail loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        runner = [sys.executable, "-m", "train", "pipeline=train_iris", *extra_args()]
        bare = [sys.executable, str(ROOT / "bench" / "bare_iris.py")]
        wall(runner, env)  # warm-up: creates the schema and the experiments
        wall(bare, env)
        runner_times, bare_times = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            runner_times.append(wall(runner, env))
            bare_times.append(wall(bare, env))
        help_times = [wall([sys.executable, "-m", "train", "--help"], env) for _ in range(args.repeat)]
    r, b, h = statistics.median(runner_times), statistics.median(bare_times), statistics.median(help_times)
    print(f"python -m train pipeline=train_iris  median of {args.repeat}: {r:6.2f} s")
    print(f"bare script, same training+logging   median of {args.repeat}: {b:6.2f} s")
    print(f"ratio runner / bare: {r / b:.3f}   (target <= 1.15)")
    print(f"python -m train --help               median of {args.repeat}: {h:6.2f} s   (target < 1.5 s)")


def extra_args() -> list[str]:
    """Arguments that make every runner invocation train (no cached hit), when modes exist."""
    conf = (ROOT / "conf" / "config.yaml").read_text()
    return ["mode=force"] if "mode:" in conf else []


if __name__ == "__main__":
    main()
