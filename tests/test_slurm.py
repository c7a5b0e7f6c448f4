"""A real single-node SLURM cluster (scripts/slurm.sh) runs a two-job sweep through `launcher=slurm`."""

import pytest
from conftest import runs, train
from scale_support import by_tag, is_root, script, sweep_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm():
    """Start the cluster (installing slurm-wlm and munge when missing); stop it afterwards."""
    if not is_root():
        pytest.skip(
            "scripts/slurm.sh installs Debian packages and starts daemons: it needs root (CI is root)"
        )
    started = script("slurm.sh", "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield
    finally:
        stopped = script("slurm.sh", "stop")
        assert stopped.returncode == 0, stopped.stderr


def test_a_sweep_through_slurm_finishes_both_jobs(slurm, tracking_uri, tmp_path):
    done = train(
        "-m", "pipeline=train_iris", "model.C=0.2,2.0", "launcher=slurm", sweep_outputs(tmp_path), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/2 jobs done" in done.stderr
    found = runs(tracking_uri, "train_iris")
    (parent,) = [r for r in found if "run.uid" not in r.data.tags]
    children = by_tag(found, "mlflow.parentRunId", parent.info.run_id)
    assert sorted(r.data.params["model.C"] for r in children) == ["0.2", "2.0"]
    assert [r.info.status for r in children] == ["FINISHED", "FINISHED"]
    assert parent.info.status == "FINISHED"
    assert list((tmp_path / "outputs" / "multirun").rglob("*_submission.sh"))  # it went through sbatch


def test_the_script_refuses_an_unknown_command():
    done = script("slurm.sh", "restart")
    assert done.returncode == 2 and "usage" in done.stderr


# --- preemption: SIGTERM ends the run KILLED at once; launcher.requeue=true resumes it -------

PREEMPT_PIPELINE = '''"""The preemption test's pipeline: a cached step, one waiting for a file, then Iris."""

import time
from pathlib import Path

from mlrepo.run.steps import step
from train.iris import pipeline as iris


@step
def prepare(version: str) -> list:
    return [version] * 100


@step
def wait_for(release: str, started: str, rows: list) -> int:
    Path(started).write_text("started")
    deadline = time.monotonic() + 300
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(rows)


def train(config):
    wait_for(config.preempt.release, config.preempt.started, prepare(config.data.version))
    return iris.train(config)
'''


def _preempt_repo(tmp_path):
    from conftest import ROOT, copy_repo

    repo = copy_repo(tmp_path / "repo", git=False)
    (repo / "train" / "preempt").mkdir()
    (repo / "train" / "preempt" / "__init__.py").write_text('"""The preemption test\'s pipeline."""\n')
    (repo / "train" / "preempt" / "pipeline.py").write_text(PREEMPT_PIPELINE)
    iris = (ROOT / "conf" / "pipeline" / "train_iris.yaml").read_text()
    config = iris.replace("name: train_iris", "name: train_preempt").replace("code: iris ", "code: preempt")
    (repo / "conf" / "pipeline" / "train_preempt.yaml").write_text(
        config + f"\npreempt:\n  release: {tmp_path / 'release'}\n  started: {tmp_path / 'started'}\n"
    )
    return repo


def _sweep(repo, tmp_path, *extra):
    import subprocess
    import sys

    args = [sys.executable, "-m", "train", "-m", "pipeline=train_preempt", "launcher=slurm",
            f"paths.cache={tmp_path / 'cache'}", sweep_outputs(tmp_path), *extra]  # fmt: skip
    return subprocess.Popen(args, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(predicate, timeout, what):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def _job_runs(uri):
    """The sweep's job runs (the parent run has no run.uid), newest first."""
    return [r for r in runs(uri, "train_preempt") if "run.uid" in r.data.tags]


def _state(job):
    import subprocess

    return subprocess.run(
        ["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()


def _job_id(repo):
    """The id of the SLURM job submitted from `repo` (its working directory)."""
    import subprocess

    listed = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True).stdout
    jobs = [line.split() for line in listed.splitlines()]
    return next((job for job, folder in jobs if folder == str(repo)), None)


def _sigterm_the_job(repo, tmp_path, tracking_uri):
    """Wait for the job to be inside `wait_for`, scancel --signal=TERM it; return (job id, run, seconds
    from the signal to the run's recorded end)."""
    import subprocess
    import time

    _wait(lambda: (tmp_path / "started").exists(), 300, "the job did not reach its waiting step")
    job = _job_id(repo)
    signalled = time.time()
    subprocess.run(["scancel", "--signal=TERM", job], check=True)
    run = _wait(lambda: [r for r in _job_runs(tracking_uri) if r.info.status == "KILLED"], 60,
                "the run did not end KILLED")[0]  # fmt: skip
    return job, run, run.info.end_time / 1000 - signalled


def _stop(sweep, repo):
    """Stop the sweep and cancel its job if either is still there (a failed test leaves no job behind)."""
    import subprocess

    if sweep.poll() is None:
        sweep.kill()
        sweep.wait()
    job = _job_id(repo)
    if job:
        subprocess.run(["scancel", job], check=False)


def _entries(tmp_path):
    from mlrepo.run import steps

    return {e.step: e for e in steps.entries(tmp_path / "cache")}


def test_sigterm_ends_the_run_killed_at_once_and_leaves_whole_cache_entries(slurm, tracking_uri, tmp_path):
    repo = _preempt_repo(tmp_path)
    sweep = _sweep(repo, tmp_path)
    try:
        job, run, seconds = _sigterm_the_job(repo, tmp_path, tracking_uri)
        print(f"SIGTERM -> KILLED: {seconds:.2f} s (job {job})")
        assert seconds < 10 and run.data.tags["mlrepo.error"] == "interrupted"
        assert "mlrepo.requeued" not in run.data.tags
        output, _ = sweep.communicate(timeout=300)
    finally:
        _stop(sweep, repo)
    assert sweep.returncode == 1, output[-3000:]  # the sweep reports the job as failed
    assert [r.info.status for r in _job_runs(tracking_uri)] == ["KILLED"]  # not requeued
    from mlrepo.run import steps

    found = _entries(tmp_path)
    assert set(found) == {"prepare"}  # the step it was in left nothing; the one before is whole
    steps.check(found["prepare"].path)
    (tmp_path / "release").write_text("")


def test_a_preempted_job_with_requeue_resumes_at_its_step(slurm, tracking_uri, tmp_path):
    repo = _preempt_repo(tmp_path)
    sweep = _sweep(repo, tmp_path, "launcher.requeue=true")
    try:
        job, killed, seconds = _sigterm_the_job(repo, tmp_path, tracking_uri)
        print(f"SIGTERM -> KILLED (requeue): {seconds:.2f} s (job {job})")
        assert seconds < 10 and killed.data.tags["mlrepo.requeued"] == "true"
        assert set(_entries(tmp_path)) == {"prepare"}
        (tmp_path / "release").write_text("")  # the requeued job's wait ends at once
        # SLURM holds a requeued job back for the credential lifetime (cred_expire, 120 s by
        # default): releasing it earlier gets it killed ("Job credential revoked"), so it waits.
        _wait(lambda: _state(job) == "PENDING", 60, "the job was not requeued")
        output, _ = sweep.communicate(timeout=600)
    finally:
        _stop(sweep, repo)
    assert sweep.returncode == 0, output[-3000:]
    assert "1/1 jobs done" in output
    finished, first = _job_runs(tracking_uri)
    assert (first.info.run_id, first.info.status, finished.info.status) == (
        killed.info.run_id,
        "KILLED",
        "FINISHED",
    )
    assert finished.data.tags["run.uid"] == first.data.tags["run.uid"]
    assert finished.data.tags["step.prepare"] == "hit" and finished.data.tags["step.wait_for"] == "miss"
    print(f"KILLED -> resumed run started: {(finished.info.start_time - killed.info.end_time) / 1000:.1f} s")
    assert {"ingest", "transform", "split", "prepare", "wait_for"} <= set(_entries(tmp_path))
