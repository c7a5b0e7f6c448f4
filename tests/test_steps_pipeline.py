"""The step cache inside real runs: tags, modes, code edits, resuming a failed run."""

from __future__ import annotations

import subprocess

import pytest
from conftest import runs, train

from mlrepo.run import runner
from mlrepo.run.config import compose

pytestmark = pytest.mark.slow

DATA_STEPS = ("ingest", "transform", "split")


def step_tags(run) -> dict[str, str]:
    return {k.removeprefix("step."): v for k, v in run.data.tags.items() if k.startswith("step.")}


def test_runs_share_their_data_steps_and_modes_and_edits_decide_what_recomputes(repo_copy, tracking_uri):
    first = train("pipeline=train_iris", "model.C=0.5", cwd=repo_copy)
    assert first.returncode == 0, first.stderr
    assert "Steps: computed ingest, transform, split" in first.stdout
    (run,) = runs(tracking_uri, "train_iris")
    assert step_tags(run) == dict.fromkeys(DATA_STEPS, "miss")
    assert (repo_copy / ".cache" / "steps" / "ingest").is_dir()  # the default place, git-ignored:
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo_copy, capture_output=True, text=True)
    assert status.stdout == ""

    # Another model parameter: a new run, the same data steps.
    second = train("pipeline=train_iris", "model.C=0.7", cwd=repo_copy)
    assert second.returncode == 0, second.stderr
    assert "Steps: reused ingest, transform, split (saved" in second.stdout
    assert step_tags(runs(tracking_uri, "train_iris")[0]) == dict.fromkeys(DATA_STEPS, "hit")

    forced = train("pipeline=train_iris", "model.C=0.7", "mode=force", cwd=repo_copy)
    assert forced.returncode == 0, forced.stderr
    assert step_tags(runs(tracking_uri, "train_iris")[0]) == dict.fromkeys(DATA_STEPS, "miss")

    off = train("pipeline=train_iris", "model.C=0.9", "cache.steps=false", cwd=repo_copy)
    assert off.returncode == 0, off.stderr
    assert step_tags(runs(tracking_uri, "train_iris")[0]) == {} and "Steps:" not in off.stdout

    # Editing a later step's code leaves the data steps' keys alone...
    with open(repo_copy / "train" / "iris" / "steps" / "metrics.py", "a") as handle:
        handle.write("\n# a later step changed\n")
    later = train("pipeline=train_iris", "model.C=0.5", cwd=repo_copy)
    assert later.returncode == 0, later.stderr
    assert step_tags(runs(tracking_uri, "train_iris")[0]) == dict.fromkeys(DATA_STEPS, "hit")

    # ...editing what ingest calls recomputes it and, through its key, every step after it.
    with open(repo_copy / "datasets" / "iris" / "dataset.py", "a") as handle:
        handle.write("\n# the loader changed\n")
    upstream = train("pipeline=train_iris", "model.C=0.5", cwd=repo_copy)
    assert upstream.returncode == 0, upstream.stderr
    assert step_tags(runs(tracking_uri, "train_iris")[0]) == dict.fromkeys(DATA_STEPS, "miss")


def test_a_failed_run_retried_recomputes_only_from_the_step_that_broke(tracking_uri, tmp_path, monkeypatch):
    import train.iris.pipeline as pipeline

    cfg = compose(["pipeline=train_iris", "model.C=3.5", f"paths.cache={tmp_path / 'cache'}"])
    calls = []
    real_fit = pipeline.fit

    def broken_fit(*args, **kwargs):
        calls.append("fit")
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(pipeline, "fit", broken_fit)
    assert runner.run(cfg, ["pipeline=train_iris", "model.C=3.5"]) == 1
    monkeypatch.setattr(pipeline, "fit", real_fit)
    retry = compose(["pipeline=train_iris", "model.C=3.5", f"paths.cache={tmp_path / 'cache'}", "mode=retry"])
    assert runner.run(retry, ["pipeline=train_iris", "model.C=3.5", "mode=retry"]) == 0
    done, failed = runs(tracking_uri, "train_iris")
    assert (failed.info.status, done.info.status) == ("FAILED", "FINISHED")
    assert failed.data.tags["run.uid"] == done.data.tags["run.uid"]
    assert step_tags(failed) == dict.fromkeys(DATA_STEPS, "miss")
    assert step_tags(done) == dict.fromkeys(DATA_STEPS, "hit")
    assert calls == ["fit"]


def test_a_sweep_of_cached_runs_reports_them_and_creates_no_parent_run(tracking_uri, tmp_path):
    outputs = f"paths.outputs={tmp_path / 'out'}"
    cache = f"paths.cache={tmp_path / 'cache'}"
    first = train("-m", "pipeline=train_iris", "model.C=0.2,0.4", outputs, cache)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("Steps: reused ingest, transform, split") == 1  # the second job shares them
    before = runs(tracking_uri, "train_iris")
    assert len(before) == 3  # a parent and two jobs

    again = train("-m", "pipeline=train_iris", "model.C=0.2,0.4", outputs, cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "all 2 jobs are cached runs; no parent run created" in again.stderr
    assert again.stdout.count("Cached: run") == 2
    assert len(runs(tracking_uri, "train_iris")) == 3

    # One new value: a real sweep, with its parent; the old job is reported, the new one trains.
    more = train("-m", "pipeline=train_iris", "model.C=0.2,0.6", outputs, cache)
    assert more.returncode == 0, more.stderr[-3000:]
    assert "no parent run" not in more.stderr
    assert len(runs(tracking_uri, "train_iris")) == 5
