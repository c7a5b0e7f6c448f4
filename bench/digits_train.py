"""A full (uncapped) DigitsCNN training: training samples/s and the final test accuracy (target >= 0.97).

Runs `python -m train pipeline=cnnv1-digitsv1 train.max_epochs=<the pipeline's own value>
mode=force` (the development cap lifted, as on the production super-branch) into a throwaway
SQLite store, then prints the figures the run logged and its wall time.

    .venv/bin/python bench/digits_train.py [--repeat 1] [--epochs N]
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

PIPELINE = "cnnv1-digitsv1"
TARGET_ACCURACY = 0.97


def uncapped_epochs() -> int:
    """The pipeline's epochs as the production super-branch composes them (no development cap)."""
    if str(ROOT) not in sys.path:  # a script in bench/: the repository's packages are not on the path
        sys.path.insert(0, str(ROOT))
    from mlrepo.run.config import compose

    return int(compose([f"pipeline={PIPELINE}", "branch=production"]).train.max_epochs)


def train_once(epochs: int, store: str, seed: int) -> dict[str, float]:
    """Train once into `store`; return the run's metrics and its wall time (`wall_s`)."""
    from mlflow.tracking import MlflowClient

    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    cmd = [sys.executable, "-m", "train", f"pipeline={PIPELINE}", f"train.max_epochs={epochs}",
           f"train.seed={seed}", "mode=force"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name(PIPELINE)
    (run,) = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"], max_results=1)
    return {**run.data.metrics, "wall_s": wall, "device": run.data.params.get("train.device_used", "?")}


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="trainings, each with its own seed")
    parser.add_argument("--epochs", type=int, default=None, help="default: the pipeline's (uncapped)")
    args = parser.parse_args()
    epochs = args.epochs or uncapped_epochs()
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/mlflow.db"
        results = [train_once(epochs, store, seed=42 + i) for i in range(args.repeat)]
    print(f"DigitsCNN on cnnv1_dataset_v1, max_epochs={epochs} (early stopping), {args.repeat} run(s)")
    for i, r in enumerate(results, 1):
        print(f"  run {i}: device {r['device']}, {int(r['epochs_trained'])} epochs, "
              f"{r['train_samples_per_s']:.0f} training samples/s, test accuracy {r['test_accuracy']:.4f}, "
              f"test F1 macro {r['test_f1_macro']:.4f}, wall {r['wall_s']:.1f} s")  # fmt: skip
    accuracy = statistics.median(r["test_accuracy"] for r in results)
    speed = statistics.median(r["train_samples_per_s"] for r in results)
    verdict = "meets" if accuracy >= TARGET_ACCURACY else "MISSES"
    print(f"median: {speed:.0f} training samples/s, test accuracy {accuracy:.4f} "
          f"({verdict} the target >= {TARGET_ACCURACY})")  # fmt: skip


if __name__ == "__main__":
    main()
