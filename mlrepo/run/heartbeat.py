"""Runs that are alive say so: a heartbeat, LOST runs and their reaping, one run per `run.uid` at a time.

MLflow has no heartbeat: a run whose process is killed (SIGKILL, the OOM killer, a lost SLURM
node) stays RUNNING for ever. While `mlrepo.run.runner` trains, a daemon thread refreshes the tag
`mlrepo.heartbeat` (epoch seconds) every `heartbeat.interval_s`; a RUNNING run whose last beat
is older than `STALE_BEATS` intervals is LOST. `python -m train runs` shows it as LOST, and
`reap` (`python -m mlrepo runs reap`, also run by the runner before it decides cached/retry)
ends it FAILED with `mlrepo.error=lost (no heartbeat since ...)`.

A run holds a file lock named after its `run.uid` while it trains, beside the SQLite store (or
under `paths.cache`'s parent for a tracking server: shared storage on a cluster). A second run
with the same uid waits on that lock, then reports the first run like a cached hit, or, when
the first died, takes over and trains.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

TAG = "mlrepo.heartbeat"
TAG_INTERVAL = "mlrepo.heartbeat_s"
TAG_ERROR = "mlrepo.error"
#: A RUNNING run silent for this many intervals is LOST.
STALE_BEATS = 4

log = logging.getLogger("mlrepo.run.heartbeat")


class Heartbeat(threading.Thread):
    """A daemon thread that refreshes a run's heartbeat tag until stopped."""

    def __init__(self, uri: str, run_id: str, interval_s: float) -> None:
        """Beat for the run `run_id` of the store `uri` every `interval_s` seconds."""
        super().__init__(name=f"heartbeat-{run_id[:8]}", daemon=True)
        self.uri, self.run_id, self.interval_s = uri, run_id, float(interval_s)
        self.stopped = threading.Event()

    def beat(self) -> None:
        """Write the current time as the run's last beat (a failed write is retried next time)."""
        from mlflow.tracking import MlflowClient

        try:
            MlflowClient(self.uri).set_tag(self.run_id, TAG, f"{time.time():.3f}")
        except Exception as exc:  # the store was briefly unreachable: the next beat tries again
            log.debug("heartbeat of %s failed: %s", self.run_id, exc)

    def run(self) -> None:
        """Beat until `stop()`."""
        while not self.stopped.wait(self.interval_s):
            self.beat()

    def stop(self) -> None:
        """Stop beating (the run is ending)."""
        self.stopped.set()


def first_beat(interval_s: float) -> dict[str, str]:
    """The tags a run starts with: its heartbeat interval and a first beat (now)."""
    return {TAG_INTERVAL: f"{float(interval_s):g}", TAG: f"{time.time():.3f}"}


def start(uri: str, run_id: str, interval_s: float, tagged: bool = False) -> Heartbeat:
    """Beat for `run_id` in a daemon thread (first recording `first_beat`, unless `tagged` already).

    Args:
        uri: the tracking store.
        run_id: the run that is alive.
        interval_s: seconds between beats.
        tagged: the run was created with `first_beat`'s tags.
    """
    if not tagged:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        for key, value in first_beat(interval_s).items():
            client.set_tag(run_id, key, value)
    thread = Heartbeat(uri, run_id, interval_s)
    thread.start()
    return thread


def last_beat(record: Any) -> float | None:
    """The time of a run's last heartbeat (epoch seconds), or None when it never had one."""
    try:
        return float(record.tags[TAG])
    except (KeyError, ValueError):
        return None


def is_lost(record: Any, now: float | None = None) -> bool:
    """Whether a RUNNING run's heartbeat stopped (runs from before heartbeats are never LOST)."""
    beat = last_beat(record)
    if record.status != "RUNNING" or beat is None:
        return False
    try:
        interval = float(record.tags.get(TAG_INTERVAL, 30))
    except ValueError:
        interval = 30.0
    return (time.time() if now is None else now) - beat > STALE_BEATS * interval


def shown_status(record: Any, now: float | None = None) -> str:
    """The status a listing shows: LOST for a RUNNING run without a heartbeat, else the store's."""
    return "LOST" if is_lost(record, now) else record.status


def _since(beat: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat)) if beat else "its start"


def reap(uri: str, records: Sequence[Any], reason: str | None = None) -> list[Any]:
    """End the given runs FAILED with `mlrepo.error=lost (no heartbeat since ...)`; return them.

    Args:
        uri: the tracking store.
        records: the runs to end (`runs.RunRecord`); their `status` is updated.
        reason: what to record instead of the default `lost (no heartbeat since <time>)`.
    """
    if not records:
        return []
    from mlflow.tracking import MlflowClient

    from mlrepo.track.tracking import with_busy_timeout

    client = MlflowClient(with_busy_timeout(uri))
    for record in records:
        beat = last_beat(record)
        record.tags[TAG_ERROR] = reason or f"lost (no heartbeat since {_since(beat)})"
        client.set_tag(record.run_id, TAG_ERROR, record.tags[TAG_ERROR])
        end = int((beat or time.time()) * 1000)
        client.set_terminated(record.run_id, status="FAILED", end_time=end)
        record.status = "FAILED"
    return list(records)


def reap_lost(uri: str, records: Sequence[Any]) -> list[Any]:
    """Reap the LOST runs among `records` (printing each); return `records`, statuses updated."""
    lost = [r for r in records if is_lost(r)]
    for record in reap(uri, lost):
        print(f"Reaped run {record.run_id}: {record.tags[TAG_ERROR]} -> FAILED", file=sys.stderr)
    return list(records)


# --- one live run per run.uid ----------------------------------------------------------------


def lock_dir(uri: str, cache: str | Path | None) -> Path:
    """Where run locks live: beside a SQLite store, else beside the step cache (shared storage)."""
    from mlrepo.track.tracking import sqlite_path

    db = sqlite_path(uri)
    if db is not None:
        return db.parent / "locks"
    base = Path(str(cache)).parent if cache else Path.home() / ".cache" / "mlrepo"
    return base / "locks"


class Claim:
    """The lock a run holds on its `run.uid` while it trains (released by `release` or process death)."""

    def __init__(self, handle: IO[str]) -> None:
        """Hold the open, locked file `handle`."""
        self.handle = handle

    def describe(self, run_id: str) -> None:
        """Write who holds the lock (run id, pid, host), for a waiting run to print."""
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname()}))
        self.handle.flush()

    def release(self) -> None:
        """Release the lock."""
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def holder(path: Path) -> str:
    """Who holds the lock at `path`, as the holder wrote it."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a run that is starting"
    return f"run {info.get('run_id', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')})"


def claim(
    folder: Path, uid: str, recheck: Callable[[bool], Any], wait: bool = True
) -> tuple[Claim | None, Any]:
    """Take the lock on `uid`, waiting for a live run that holds it.

    Args:
        folder: the lock folder (`lock_dir`).
        uid: the run's `run.uid`.
        recheck: called once the lock is ours with whether we waited; returns the run to report
            instead of training (the first run FINISHED meanwhile), or None.
        wait: False: do not wait for a live run, train beside it (no lock held).

    Returns:
        `(claim, None)` when this process trains (holding the lock), `(None, run)` when `run`
        is to be reported instead, `(None, None)` when not waiting and the lock was taken.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uid}.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        waited = False
    except BlockingIOError:
        if not wait:
            handle.close()
            print(f"Not waiting for {holder(path)} with the same run.uid {uid[:8]} (--no-wait).",
                  file=sys.stderr)  # fmt: skip
            return None, None
        started = time.monotonic()
        try:
            print(f"Waiting for {holder(path)}: it trains the same run.uid {uid[:8]} "
                  "(--no-wait or mode=force to train anyway)...", file=sys.stderr, flush=True)  # fmt: skip
            fcntl.flock(handle, fcntl.LOCK_EX)
        except KeyboardInterrupt:  # Ctrl-C while waiting: nothing ran, nothing to end
            handle.close()
            print("\nInterrupted while waiting: nothing trained.", file=sys.stderr)
            raise SystemExit(130) from None
        waited = True
        print(f"  done waiting after {time.monotonic() - started:.1f} s", file=sys.stderr)
    found = recheck(waited)
    if found is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        return None, found
    return Claim(handle), None
