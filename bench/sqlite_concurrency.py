"""Many processes writing runs into one SQLite MLflow store at once: none may be lost.

Each of P processes starts R runs (params, metrics, tags, FINISHED) through `mlrepo.track.tracking`,
as parallel sweep jobs do. Prints the runs found against the runs written (target: 0 lost) and
the writers' errors (target: 0).

    .venv/bin/python bench/sqlite_concurrency.py [--procs 8] [--runs 25]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "sqlite_concurrency"


def writer(uri: str, worker: int, count: int) -> None:
    """Write `count` complete runs, the way the runner does (schema and experiment under the lock)."""
    sys.path.insert(0, str(ROOT))
    import mlflow

    from mlrepo.track import tracking

    uri = tracking.connect(uri)
    exp_id = tracking.experiment_id(EXPERIMENT, uri)
    for i in range(count):
        with mlflow.start_run(experiment_id=exp_id, tags={"worker": str(worker), "i": str(i)}):
            mlflow.log_params({"worker": worker, "i": i, "C": 0.1 * i})
            mlflow.log_metrics({"accuracy": 0.5 + i / 100, "loss": 1 / (i + 1)})


def measure(procs: int, runs: int, folder: Path) -> dict[str, float]:
    """Start the writers on a fresh store in `folder`; return what was written, found, failed."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--writer", uri, str(w), str(runs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(procs)
    ]
    errors = []
    for child in children:
        _, err = child.communicate(timeout=900)
        if child.returncode != 0:
            errors.append(err[-2000:])
    seconds = time.perf_counter() - started
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(EXPERIMENT)
    found = client.search_runs([exp.experiment_id], max_results=50000) if exp else []
    finished = [r for r in found if r.info.status == "FINISHED" and len(r.data.params) == 3]
    default = client.get_experiment_by_name("Default")
    strays = len(client.search_runs([default.experiment_id])) if default else 0
    for err in errors:
        print(err, file=sys.stderr)
    return {
        "written": procs * runs,
        "found": len(finished),
        "lost": procs * runs - len(finished),
        "errors": len(errors),
        "strays": strays,
        "seconds": seconds,
    }


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--writer", nargs=3, metavar=("URI", "WORKER", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        uri, worker, count = args.writer
        writer(uri, int(worker), int(count))
        return
    with tempfile.TemporaryDirectory() as tmp:
        r = measure(args.procs, args.runs, Path(tmp))
    print(f"{args.procs} processes x {args.runs} runs into one SQLite store in {r['seconds']:.1f} s")
    print(f"runs written {r['written']}, found FINISHED and complete {r['found']}")
    print(f"lost {r['lost']}   errors {r['errors']}   runs in the Default experiment {r['strays']}   "
          "(targets: 0, 0, 0)")  # fmt: skip
    sys.exit(0 if r["lost"] == r["errors"] == r["strays"] == 0 else 1)


if __name__ == "__main__":
    main()
