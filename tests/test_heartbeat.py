"""Heartbeats, LOST runs and their reaping, and one live run per run.uid (`mlrepo.run.heartbeat`)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT, default_sigint, runs, train

from mlrepo.run import heartbeat
from mlrepo.track.runs import RunRecord, reader, table

SLEEP = """    import os, time  # test hook: a run that takes long enough to be caught RUNNING

    time.sleep(float(os.environ.get("TEST_SLEEP_S", "0")))
"""


def record(status: str = "RUNNING", beat: float | None = None, interval: float = 1.0) -> RunRecord:
    tags = {"pipeline": "train_iris"}
    if beat is not None:
        tags.update({heartbeat.TAG: f"{beat:.3f}", heartbeat.TAG_INTERVAL: str(interval)})
    return RunRecord("r" * 32, "train_iris", status, int(time.time() * 1000), tags)


def test_a_running_run_is_lost_once_its_heartbeat_is_several_intervals_old():
    now = time.time()
    assert not heartbeat.is_lost(record(beat=now - 3), now)  # within 4 intervals
    assert heartbeat.is_lost(record(beat=now - 5), now)
    assert not heartbeat.is_lost(record("FINISHED", beat=now - 500), now)
    assert not heartbeat.is_lost(record(beat=None), now)  # from before heartbeats: never LOST
    assert table([record(beat=now - 60)], now).splitlines()[1].startswith("LOST ")


def start_run(uri: str, beat_age: float | None, interval: float = 0.2) -> str:
    from mlflow.tracking import MlflowClient

    from mlrepo.track import tracking

    uri = tracking.connect(uri)
    client = MlflowClient(uri)
    run_id = client.create_run(tracking.experiment_id("train_iris", uri)).info.run_id
    if beat_age is not None:
        client.set_tag(run_id, heartbeat.TAG_INTERVAL, str(interval))
        client.set_tag(run_id, heartbeat.TAG, f"{time.time() - beat_age:.3f}")
    return run_id


def test_the_thread_beats_and_reap_ends_only_lost_runs_failed(tracking_uri):
    from mlflow.tracking import MlflowClient

    alive = start_run(tracking_uri, None)
    beating = heartbeat.start(tracking_uri, alive, 0.2)
    first = float(MlflowClient(tracking_uri).get_run(alive).data.tags[heartbeat.TAG])
    time.sleep(0.7)
    later = float(MlflowClient(tracking_uri).get_run(alive).data.tags[heartbeat.TAG])
    assert later > first
    lost = start_run(tracking_uri, beat_age=60)
    silent = start_run(tracking_uri, beat_age=None)  # no heartbeat at all: left alone

    done = subprocess.run([PYTHON, "-m", "mlrepo", "runs", "reap"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    beating.stop()
    assert done.returncode == 0, done.stderr
    assert f"reaped {lost}" in done.stdout and "1 lost run(s)" in done.stdout
    client = MlflowClient(tracking_uri)
    assert client.get_run(lost).info.status == "FAILED"
    assert client.get_run(lost).data.tags["mlrepo.error"].startswith("lost (no heartbeat since ")
    assert client.get_run(alive).info.status == "RUNNING"
    assert client.get_run(silent).info.status == "RUNNING"


def test_a_claimed_uid_blocks_a_second_claim_until_released(tmp_path, capsys):
    first, _ = heartbeat.claim(tmp_path, "u" * 32, lambda waited: None)
    assert first is not None
    first.describe("abc123")
    second, hit = heartbeat.claim(tmp_path, "u" * 32, lambda waited: None, wait=False)
    assert (second, hit) == (None, None)
    assert "Not waiting for run abc123 (pid" in capsys.readouterr().err
    first.release()
    third, hit = heartbeat.claim(tmp_path, "u" * 32, lambda waited: "the finished run")
    assert (third, hit) == (None, "the finished run")
    assert heartbeat.lock_dir("sqlite:////x/y/mlflow.db", None) == Path("/x/y/locks")


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from mlrepo.run import heartbeat
claim, _ = heartbeat.claim(Path({folder!r}), "w" * 32, lambda waited: None)
print("claimed", flush=True)
time.sleep({seconds})
"""


def test_ctrl_c_while_waiting_exits_130_without_a_traceback(tmp_path):
    def process(seconds: float) -> subprocess.Popen[str]:
        code = HOLD.format(root=str(ROOT), folder=str(tmp_path), seconds=seconds)
        return subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=default_sigint)  # fmt: skip

    holder = process(60)
    assert holder.stdout.readline().strip() == "claimed"
    waiter = process(0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Waiting for" not in (line := waiter.stderr.readline()):
        pass
    assert "Waiting for a run that is starting" in line
    time.sleep(0.5)
    waiter.send_signal(signal.SIGINT)
    _, err = waiter.communicate(timeout=30)
    holder.kill()
    holder.communicate()
    assert waiter.returncode == 130 and "Interrupted while waiting" in err and "Traceback" not in err


# --- real processes -------------------------------------------------------------------------


@pytest.fixture
def slow_repo(repo_copy: Path) -> Path:
    pipeline = repo_copy / "train" / "iris" / "pipeline.py"
    text = pipeline.read_text()
    marker = '    """Train and evaluate an IrisClassifier as `config` says; return the fitted model."""\n'
    pipeline.write_text(text.replace(marker, marker + SLEEP))
    return repo_copy


def start(repo: Path, *args: str, sleep: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "train", "pipeline=train_iris", "heartbeat.interval_s=0.5", *args],
        cwd=repo,
        env={**os.environ, "TEST_SLEEP_S": str(sleep)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_running(uri: str, count: int = 1, timeout: float = 90) -> list[RunRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = reader(uri.removesuffix("?timeout=120")).search(status="RUNNING")
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError("no RUNNING run appeared")


@pytest.mark.slow
def test_a_killed_run_shows_lost_is_reaped_failed_and_retry_trains_again(slow_repo, tracking_uri):
    victim = start(slow_repo, "model.C=0.3", sleep=120)
    (running,) = wait_running(tracking_uri)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    time.sleep(2.5)  # > 4 heartbeat intervals of 0.5 s
    listed = train("runs", cwd=slow_repo)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("LOST") and running.run_id[:8] in line for line in lines), listed.stdout
    reaped = subprocess.run([PYTHON, "-m", "mlrepo", "runs", "reap"], cwd=slow_repo, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert reaped.returncode == 0 and running.run_id in reaped.stdout, reaped.stderr
    (dead,) = runs(tracking_uri, "train_iris")
    assert dead.info.status == "FAILED" and dead.data.tags["mlrepo.error"].startswith("lost (no heartbeat")

    again = train("pipeline=train_iris", "model.C=0.3", "mode=retry", cwd=slow_repo)
    assert again.returncode == 0, again.stderr
    assert [r.info.status for r in runs(tracking_uri, "train_iris")] == ["FINISHED", "FAILED"]


@pytest.mark.slow
def test_two_identical_runs_at_once_train_once_and_a_waiter_takes_over_a_dead_run(slow_repo, tracking_uri):
    first = start(slow_repo, "model.C=0.6", sleep=6)
    (running,) = wait_running(tracking_uri)
    second = start(slow_repo, "model.C=0.6", sleep=0)
    out, err = second.communicate(timeout=180)
    first.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0), err
    assert f"Waiting for run {running.run_id}" in err
    assert f"Cached: run {running.run_id} FINISHED" in out
    assert len(runs(tracking_uri, "train_iris")) == 1

    # The run waited for dies: the waiter takes over and trains.
    doomed = start(slow_repo, "model.C=0.8", sleep=120)
    (victim,) = wait_running(tracking_uri)
    waiter = start(slow_repo, "model.C=0.8", sleep=0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((Path(tracking_uri[10:]).parent / "locks").glob("*")):
        time.sleep(0.2)
    time.sleep(4)  # the waiter is blocked on the lock by now
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(30)
    out, err = waiter.communicate(timeout=180)
    assert waiter.returncode == 0, err
    assert f"Waiting for run {victim.run_id}" in err and "this run takes over" in err
    latest, dead = runs(tracking_uri, "train_iris")[:2]
    assert latest.info.status == "FINISHED" and dead.info.run_id == victim.run_id
    assert dead.info.status == "FAILED" and dead.data.tags["mlrepo.error"].startswith("lost")

    # --no-wait trains beside a live identical run.
    busy = start(slow_repo, "model.C=0.9", sleep=8)
    wait_running(tracking_uri)
    beside = train("pipeline=train_iris", "model.C=0.9", "--no-wait", cwd=slow_repo)
    busy.communicate(timeout=120)
    assert beside.returncode == 0, beside.stderr
    assert "Not waiting for run" in beside.stderr
    assert len([r for r in runs(tracking_uri, "train_iris") if r.data.params["model.C"] == "0.9"]) == 2
