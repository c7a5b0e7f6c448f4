"""The same study as a notebook and as a `pipeline.py`: what running a notebook headless costs.

In a throwaway copy of the repository and a throwaway MLflow store, one train_iris run is made,
then `estudy_iris_errors` (models/IrisClassifier/notebooks/errors.ipynb, run by nbclient) and
`estudy_iris_errors_py` (the notebook's cells as train/estudy_iris_errors_py/pipeline.py, written
by this script: same imports, same computation, same metrics and figure) run with `mode=force`,
alternately, `--repeat` times each. Prints the median wall time of `python -m train` and the
run's own time ("FINISHED in X s"), and their ratios.

    .venv/bin/python bench/notebook_study.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = '''"""The estudy_iris_errors notebook's cells as a pipeline.py (bench/notebook_study.py)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from datasets.iris.common import CLASS_NAMES  # noqa: E402
from mlrepo.run import tasks  # noqa: E402
from mlrepo.track import tracking  # noqa: E402
from train.iris.steps.ingest import ingest  # noqa: E402
from train.iris.steps.split import split  # noqa: E402
from train.iris.steps.transform import transform  # noqa: E402


def train(config: DictConfig) -> str:
    """Where the studied run errs on its own test split."""
    studied = tasks.studied_run(config)
    params = studied.data.params
    model = tasks.load_studied_model(config)
    features, labels = transform(ingest(None))
    test_size, seed = float(params["data.test_size"]), int(params["train.seed"])
    _, x_test, _, y_test = split(features, labels, test_size, seed)
    predicted = pd.Series(model.predict(x_test), index=y_test.index)
    wrong = x_test[predicted != y_test].assign(truth=y_test, predicted=predicted)
    tracking.log_metrics({"test_accuracy": float((predicted == y_test).mean()), "errors": float(len(wrong))})
    display = ConfusionMatrixDisplay.from_predictions(y_test, predicted, labels=CLASS_NAMES)
    plt.title("The studied run on its own test split")
    tracking.log_figure(display.figure_, "plots/errors-cell4.png")
    head = f"run {studied.info.run_id}: {len(wrong)} errors on {len(y_test)} test rows"
    return head + "\\n\\n" + wrong.to_markdown()
'''


def _copy(dest: Path) -> None:
    """The tracked files of the checkout (what a clone has), plus the pipeline.py twin and its config."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "train/estudy_iris_errors_py").mkdir()
    (dest / "train/estudy_iris_errors_py/__init__.py").write_text('"""Bench twin."""\n')
    (dest / "train/estudy_iris_errors_py/pipeline.py").write_text(PIPELINE)
    config = (dest / "conf/pipeline/estudy_iris_errors.yaml").read_text()
    config = config.replace("name: estudy_iris_errors", "name: estudy_iris_errors_py")
    config = re.sub(r"  notebook: .*", "  code: estudy_iris_errors_py", config)
    (dest / "conf/pipeline/estudy_iris_errors_py.yaml").write_text(config)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def _run(repo: Path, pipeline: str, env: dict[str, str]) -> tuple[float, float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "train", f"pipeline={pipeline}", "mode=force"], cwd=repo,
                          env=env, capture_output=True, text=True)  # fmt: skip
    wall = time.monotonic() - start
    found = re.search(r"FINISHED in ([0-9.]+) s", done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{pipeline} failed:\n{done.stdout}\n{done.stderr}")
    return wall, float(found.group(1))


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        _copy(repo)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
               "MLFLOW_DISABLE_TELEMETRY": "true"}  # fmt: skip
        env.pop("PYTHONPATH", None)
        _run(repo, "train_iris", env)
        results: dict[str, list[tuple[float, float]]] = {
            "estudy_iris_errors": [],
            "estudy_iris_errors_py": [],
        }
        for i in range(repeat):  # alternate which goes first
            for name in sorted(results, reverse=bool(i % 2)):
                results[name].append(_run(repo, name, env))
    medians = {
        k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v))
        for k, v in results.items()
    }
    for name, (wall, run) in medians.items():
        kind = "notebook" if name == "estudy_iris_errors" else "pipeline.py"
        shown = f"python -m train {wall:5.2f} s   the run {run:5.2f} s   (median of {repeat})"
        print(f"{kind:11s} {name:22s} {shown}")
    (nb_wall, nb_run), (py_wall, py_run) = medians["estudy_iris_errors"], medians["estudy_iris_errors_py"]
    print(f"notebook / pipeline.py: {nb_wall / py_wall:.2f}x wall, {nb_run / py_run:.2f}x the run "
          f"(+{nb_wall - py_wall:.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
