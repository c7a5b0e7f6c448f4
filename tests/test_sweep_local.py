"""Sweeps with `launcher=local` (forked warm workers, or spawned ones for TensorFlow): a parent
run, tagged children, a progress bar, and a failed job that does not stop the others; plus many
parallel writers on one SQLite store."""

import importlib
import signal
import subprocess
import time

import pytest
from conftest import PYTHON, ROOT, default_sigint, runs, train
from scale_support import by_tag, sweep_outputs

from mlrepo.run import launcher
from mlrepo.run.config import CONF_DIR
from mlrepo.run.launcher import fork_blockers, pipeline_codes, third_party_imports
from mlrepo.run.sweep import count_jobs, progress_line

pytestmark = pytest.mark.slow


def test_a_local_sweep_groups_its_runs_under_a_parent(tracking_uri, tmp_path):
    done = train("-m", "pipeline=train_iris", "model.C=0.1,0.5", "launcher=local", sweep_outputs(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/2 jobs done" in done.stderr
    assert "Forking 2 jobs, 2 at a time" in done.stdout + done.stderr  # Iris is fork-safe: warm workers
    found = runs(tracking_uri, "train_iris")
    (parent,) = [r for r in found if "run.uid" not in r.data.tags]
    sweep_id = parent.data.tags["sweep.id"]
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.total"] == "2"
    children = by_tag(found, "mlflow.parentRunId", parent.info.run_id)
    assert len(children) == 2 == len(found) - 1
    assert {r.data.tags["sweep.id"] for r in children} == {sweep_id}
    assert {r.data.params["model.C"] for r in children} == {"0.1", "0.5"}
    assert all(r.info.status == "FINISHED" for r in children)
    assert len({r.data.tags["run.uid"] for r in children}) == 2

    # The same sweep again: every job is a cached hit, nothing is trained.
    again = train("-m", "pipeline=train_iris", "model.C=0.1,0.5", "launcher=local", sweep_outputs(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Cached: run") == 2
    assert len([r for r in runs(tracking_uri, "train_iris") if "run.uid" in r.data.tags]) == 2


def test_a_failed_job_does_not_stop_the_sweep_which_exits_non_zero(tracking_uri, tmp_path):
    # test_size=5.0 makes sklearn fail inside train(); the other job must still finish.
    done = train(
        "-m", "pipeline=train_iris", "data.test_size=0.3,5.0", "launcher=local", sweep_outputs(tmp_path)
    )
    assert done.returncode == 1
    assert "2/2 jobs done (1 failed)" in done.stderr
    found = runs(tracking_uri, "train_iris")
    statuses = sorted(r.info.status for r in found if "run.uid" in r.data.tags)
    assert statuses == ["FAILED", "FINISHED"]
    (parent,) = [r for r in found if "run.uid" not in r.data.tags]
    assert parent.info.status == "FAILED" and parent.data.tags["sweep.failed"] == "1"


def test_job_counting_and_the_progress_line():
    assert count_jobs(["pipeline=train_iris", "model.C=0.1,1,10", "train.seed=1,2"]) == 6
    assert count_jobs(["pipeline=train_iris"]) == 1
    assert progress_line(3, 8, 1, width=8) == "[###.....] 3/8 jobs done (1 failed)"


def test_eight_processes_writing_runs_into_one_sqlite_store_lose_none():
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "sqlite_concurrency.py"), "--procs", "8", "--runs", "10"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "runs written 80, found FINISHED and complete 80" in done.stdout
    assert "lost 0   errors 0   runs in the Default experiment 0" in done.stdout


def test_a_sweep_with_a_mistake_exits_2_before_anything_runs(tracking_uri):
    done = train("-m", "pipeline=train_iris,nope", "model.C=1,2")
    assert done.returncode == 2 and "Unknown pipeline 'nope'" in done.stderr
    assert runs(tracking_uri, "train_iris") == []


def test_an_interrupted_sweep_ends_its_parent_run_killed(tracking_uri, tmp_path):
    proc = subprocess.Popen(
        [PYTHON, "-m", "train", "-m", "pipeline=train_iris", "model.C=3.1,3.2,3.3,3.4", "launcher=local",
         sweep_outputs(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
    )  # fmt: skip
    for line in proc.stderr:
        if line.startswith("Sweep "):  # the parent run exists
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    (parent,) = [r for r in runs(tracking_uri, "train_iris") if "run.uid" not in r.data.tags]
    assert parent.info.status == "KILLED"


def test_a_ctrl_c_swallowed_by_a_garbage_collection_callback_still_stops_the_warm_up(monkeypatch):
    """CI caught it: SQLAlchemy's weakref callback got the KeyboardInterrupt during the warm-up,
    Python printed "Exception ignored in" and the sweep went on to FINISHED with exit 0."""
    real = importlib.import_module

    def import_module(name, package=None):
        if name != "fake.module":
            return real(name, package)
        try:
            signal.raise_signal(signal.SIGINT)  # the user's Ctrl-C, during this import...
        except KeyboardInterrupt:
            pass  # ...lands in a callback that swallows it, as a __del__ or weakref callback does

    monkeypatch.setattr(importlib, "import_module", import_module)
    monkeypatch.setattr(launcher, "WARM", ("fake.module",))
    monkeypatch.setattr(launcher, "WARM_CALLS", ())
    monkeypatch.setattr(launcher, "_is_module", lambda name: True)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        launcher.warm_up([])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_tensorflow_pipelines_are_not_forked_the_others_are():
    assert "tensorflow" in third_party_imports("digits") and "sklearn" in third_party_imports("iris")
    assert [r for r in fork_blockers(["iris"]) if r.startswith("train/")] == []
    assert "train/digits imports keras, tensorflow" in fork_blockers(["iris", "digits"])
    jobs = [["pipeline=train_iris", "model.C=1"], ["pipeline=cnnv1-digitsv1"], ["model.C=2"]]
    assert pipeline_codes(jobs, "iris", CONF_DIR) == ["iris", "digits"]
    assert pipeline_codes([["pipeline=estudy_iris_errors"]], "", CONF_DIR) == []  # a notebook: no module


def test_the_spawned_workers_still_run_a_sweep(tracking_uri, tmp_path):
    # The path TensorFlow pipelines take (joblib/loky), forced here on Iris to keep it quick.
    spawned = ["launcher=local", "hydra.launcher.backend=loky", sweep_outputs(tmp_path)]
    done = train("-m", "pipeline=train_iris", "model.C=0.2,0.4", *spawned)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "spawned workers (joblib/loky): hydra.launcher.backend is loky" in done.stdout + done.stderr
    assert "2/2 jobs done" in done.stderr
    children = [r for r in runs(tracking_uri, "train_iris") if "run.uid" in r.data.tags]
    assert sorted(r.info.status for r in children) == ["FINISHED", "FINISHED"]
