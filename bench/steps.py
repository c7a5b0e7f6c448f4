"""The step cache on a pipeline whose data preparation dominates: a sweep, a cache hit, a resume.

A throwaway copy of the repository gets a bench pipeline, `train_stepbench`: `generate` a table
of 1 M card transactions (50 k users, 20 categories, six months), `engineer` 42 features from
it (per-user aggregates, gaps between purchases, rolling means and deviations over 3/10/30/100
purchases, a rolling median, 7- and 30-day spend, ranks, category shares, one-hot categories:
~15 s on 2 busy cores), `split`, `fit` a ridge regression (the quick model, swept over
`model.alpha`) and `evaluate`. Every step is a cached `@step`. Measured in one run, all
through `python -m train`:

1. an 8-job sweep over `model.alpha` (`launcher=sequential`) with `cache.steps=false`, then
   the same sweep into another empty store with an empty step cache: the data steps
   run once, seven jobs reuse them (target: >= 3x faster);
2. the cache hit of `engineer`'s >= 100 MB DataFrame, as the runner times it in those jobs
   (median), and loaded again here (target: <= 0.3 s);
3. a run whose last step (`evaluate`) fails, then the same command with `mode=retry`: only
   `evaluate` is computed (target: >= 5x faster), by wall time and by the runs' own durations.

    .venv/bin/python bench/steps.py [--rows 1000000] [--jobs 8]
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
COPIED = ("mlrepo", "train", "datasets", "models", "conf")

CONFIG = """\
# @package _global_
# python -m train pipeline=train_stepbench   (bench/steps.py writes it into a throwaway copy)
pipeline:
  name: train_stepbench
  code: stepbench
  model: Ridge
  metric: r2

data:
  dataset: transactions
  version: v1
  rows: {rows}

model:
  alpha: 1.0

train:
  seed: 0
"""

STEPS = '''\
"""The bench pipeline's steps: a generated transactions table, its features, a ridge model."""

import os

import numpy as np
import pandas as pd

from mlrepo.run.steps import step


@step
def generate(rows: int, seed: int) -> pd.DataFrame:
    """Card transactions: user, time, category, amount, quantity."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01").value // 10**9
    return pd.DataFrame({
        "user": rng.integers(0, 50_000, rows),
        "ts": pd.to_datetime(start + rng.integers(0, 180 * 86400, rows), unit="s"),
        "category": pd.Categorical.from_codes(rng.integers(0, 20, rows), [f"c{i:02d}" for i in range(20)]),
        "amount": rng.lognormal(3, 1, rows),
        "quantity": rng.integers(1, 10, rows),
    })


@step
def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-user aggregates, gaps, rolling statistics, 7-day spend, ranks, shares, one-hot categories."""
    f = frame.sort_values(["user", "ts"], kind="stable").reset_index(drop=True)
    g = f.groupby("user", sort=False)
    out = {"log_amount": np.log1p(f["amount"]), "unit_price": f["amount"] / f["quantity"]}
    for stat in ("mean", "std", "count", "median", "max"):
        out[f"user_{stat}"] = g["amount"].transform(stat)
    out["gap_h"] = g["ts"].diff().dt.total_seconds() / 3600
    for window in (3, 10, 30, 100):
        rolling = g["amount"].rolling(window, min_periods=1)
        out[f"mean_{window}"] = rolling.mean().reset_index(level=0, drop=True)
        out[f"std_{window}"] = rolling.std().reset_index(level=0, drop=True)
    out["median_10"] = g["amount"].rolling(10, min_periods=1).median().reset_index(level=0, drop=True)
    by_time = f.set_index("ts").groupby("user", sort=False)["amount"]
    out["spend_7d"] = by_time.rolling("7D").sum().to_numpy()
    out["spend_30d"] = by_time.rolling("30D").sum().to_numpy()
    out["rank_in_user"] = g["amount"].rank(pct=True)
    out["hour"] = f["ts"].dt.hour
    out["dow"] = f["ts"].dt.day_of_week
    by_category = f.groupby(["user", "category"], observed=True)["amount"].transform("sum")
    out["category_share"] = by_category / g["amount"].transform("sum")
    table = pd.DataFrame(out).fillna(0.0).astype("float32")
    table = table.join(pd.get_dummies(f["category"], prefix="cat", dtype="float32"))
    noise = np.random.default_rng(1).normal(0, 0.1, len(table))
    table["target"] = (0.5 * table["log_amount"] + 0.2 * np.log1p(table["mean_10"]) + 0.05 * table["hour"]
                       - 0.01 * table["gap_h"].clip(0, 100) + noise).astype("float32")
    return table


@step
def split(table: pd.DataFrame, seed: int) -> tuple:
    """Hold out 30 % of the rows."""
    test = np.random.default_rng(seed).random(len(table)) < 0.3
    x, y = table.drop(columns="target"), table["target"]
    return x[~test], x[test], y[~test], y[test]


@step
def fit(x_train: pd.DataFrame, y_train: pd.Series, alpha: float):
    """A ridge regression (the quick model)."""
    from sklearn.linear_model import Ridge

    return Ridge(alpha=alpha).fit(x_train, y_train)


@step
def evaluate(model, x_test: pd.DataFrame, y_test: pd.Series) -> dict:
    """R² and RMSE on the held-out rows (fails when BENCH_FAIL_EVALUATE is set: the bench's crash)."""
    if os.environ.get("BENCH_FAIL_EVALUATE"):
        raise RuntimeError("evaluate crashed (BENCH_FAIL_EVALUATE)")
    from sklearn.metrics import mean_squared_error, r2_score

    predicted = model.predict(x_test)
    rmse = float(mean_squared_error(y_test, predicted) ** 0.5)
    return {"r2": float(r2_score(y_test, predicted)), "rmse": rmse}
'''

PIPELINE = '''\
"""The step-cache bench pipeline: generate → engineer → split → fit → evaluate."""

from omegaconf import DictConfig

from mlrepo.track import tracking
from train.stepbench.steps import engineer, evaluate, fit, generate, split


def train(config: DictConfig):
    """Prepare the data, fit a ridge model, log its metrics; return the model."""
    table = engineer(generate(config.data.rows, config.train.seed))
    x_train, x_test, y_train, y_test = split(table, config.train.seed)
    model = fit(x_train, y_train, alpha=config.model.alpha)
    tracking.log_metrics(evaluate(model, x_test, y_test))
    tracking.set_input_example(x_test.head(5))
    return model
'''


def make_copy(dest: Path, rows: int) -> None:
    """A git repository holding this one's code plus the bench pipeline."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", ".gitignore"):
        shutil.copy2(ROOT / name, dest / name)
    (dest / "conf" / "pipeline" / "train_stepbench.yaml").write_text(CONFIG.format(rows=rows))
    code = dest / "train" / "stepbench"
    code.mkdir()
    (code / "__init__.py").write_text('"""The step-cache bench pipeline."""\n')
    (code / "steps.py").write_text(STEPS)
    (code / "pipeline.py").write_text(PIPELINE)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=env)


def train(repo: Path, env: dict[str, str], *args: str, ok: bool = True) -> tuple[float, str]:
    """Run `python -m train ARGS` in `repo`; return its wall time and output (exit if it failed)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "train", *args], cwd=repo, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if (done.returncode == 0) != ok:
        sys.exit(f"python -m train {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, done.stdout + done.stderr


def run_seconds(uri: str, pipeline: str) -> list[tuple[str, float]]:
    """(status, end - start in seconds) of the pipeline's runs, newest first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(pipeline)
    found = client.search_runs([exp.experiment_id], order_by=["start_time DESC"])
    return [
        (r.info.status, (r.info.end_time - r.info.start_time) / 1000)
        for r in found
        if "run.uid" in r.data.tags
    ]


def step_seconds(log: str) -> float:
    """The time a run's steps took, from the runner's `step NAME: hit|miss (key K, S s)` lines."""
    return sum(float(s) for s in re.findall(r"step \w+: (?:hit|miss) \(key \w+, ([\d.]+) s\)", log))


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from mlrepo.run import steps

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        make_copy(repo, args.rows)
        uri = f"sqlite:///{tmp}/store/mlflow.db"
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
        # The cached sweep logs into a store of its own: in the first one its jobs would be
        # cached *run* hits (cache.steps is no part of run.uid), and mode=force would recompute steps.
        other = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/store2/mlflow.db"}
        outputs = f"paths.outputs={tmp}/outputs"
        alphas = ",".join(f"{10 ** (i / 2 - 2):g}" for i in range(args.jobs))
        sweep = ("-m", "pipeline=train_stepbench", f"model.alpha={alphas}", "launcher=sequential", outputs)

        # 1. the sweep without, then with, the step cache (each into an empty store: every job trains).
        without, _ = train(repo, env, *sweep, "cache.steps=false")
        cache = Path(tmp) / "cache"
        with_cache, log = train(repo, other, *sweep, f"paths.cache={cache}")
        reused = log.count("Steps: reused generate, engineer, split")
        hits = [float(s) for s in re.findall(r"step engineer: hit \(key \w+, ([\d.]+) s\)", log)]
        entry = next(e for e in steps.entries(cache) if e.step == "engineer")
        started = time.perf_counter()
        frame, _ = steps.load(entry.path)
        load_s = time.perf_counter() - started
        megabytes = frame.memory_usage(deep=True).sum() / 1e6
        prep = sum(e.computed_s for e in steps.entries(cache) if e.step in ("generate", "engineer"))

        # 3. a crash in the last step, then mode=retry (a fresh cache: the crashed run computes it all).
        retry_cache = f"paths.cache={Path(tmp) / 'cache-retry'}"
        one = ("pipeline=train_stepbench", "model.alpha=0.5", outputs, retry_cache)
        crashed, crashed_log = train(repo, {**env, "BENCH_FAIL_EVALUATE": "1"}, *one, ok=False)
        resumed, resumed_log = train(repo, env, *one, "mode=retry")
        (_, resumed_run), (failed_status, crashed_run) = run_seconds(uri, "train_stepbench")[:2]
        assert failed_status == "FAILED", failed_status
        assert "Steps: reused generate, engineer, split, fit" in resumed_log, resumed_log[-2000:]

    crashed_steps, resumed_steps = step_seconds(crashed_log), step_seconds(resumed_log)
    print(f"step cache bench: {args.rows:,} rows, {args.jobs} jobs, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"data preparation (generate + engineer), computed once: {prep:6.1f} s")
    print(f"1. sweep of {args.jobs} over model.alpha, cache.steps=false  {without:6.1f} s")
    print(
        f"   the same sweep with the step cache            {with_cache:6.1f} s   "
        f"{without / with_cache:.2f}x faster (target >= 3); {reused} jobs reused the data steps"
    )
    print(
        f"2. cache hit of engineer ({megabytes:.0f} MB DataFrame) in the jobs: median "
        f"{statistics.median(hits or [0]):.2f} s, max {max(hits or [0]):.2f} s; "
        f"loaded here {load_s:.2f} s (target <= 0.3)"
    )
    print(f"3. run crashing in its last step (all computed)  {crashed:6.1f} s wall, {crashed_run:5.1f} s run")
    print(
        f"   mode=retry (only evaluate computed)           {resumed:6.1f} s wall, {resumed_run:5.1f} s run"
        f"   {crashed / resumed:.2f}x wall, {crashed_run / resumed_run:.2f}x run (target >= 5)"
    )
    print(f"   the steps alone: {crashed_steps:.1f} s computed before the crash, {resumed_steps:.1f} s "
          f"on the retry ({crashed_steps / resumed_steps:.2f}x); the rest of each command is the fixed cost "
          "of a run (interpreter, Hydra, MLflow, logging the model and its card)")  # fmt: skip


if __name__ == "__main__":
    main()
