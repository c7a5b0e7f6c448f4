"""The local run index (mlrepo/server/index.py) against a real `mlflow server`: only changes fetched.

A plain MLflow server on SQLite (no logins: the index does not depend on them) and pages of two
runs, so that a handful of runs makes a listing "longer than one page".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from scale_support import free_port

import mlrepo.track.runs as runs_module
from mlrepo.server import index as index_module
from mlrepo.track.runs import RestReader

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An `mlflow server` on a fresh SQLite store; its URL."""
    where = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    log = (where / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{where / 'mlflow.db'}",
         "--default-artifact-root", str(where / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((where / "server.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    try:
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        log.close()


@pytest.fixture
def listing(server, tmp_path, monkeypatch):
    """(list, client, experiment id, searches): list the experiment through the index, with pages of two."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setattr(runs_module, "PAGE", 2)
    monkeypatch.setattr(index_module, "INDEX_DIR", tmp_path / "index")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    client = MlflowClient(server)
    name = f"index-{tmp_path.name}"
    exp = client.create_experiment(name)
    searches: list[dict] = []

    class Recording(RestReader):
        def pages(self, body, limit):
            searches.append(body)
            return super().pages(body, limit)

    def list_runs(refresh: bool = False) -> dict[str, str]:
        found = Recording(server, refresh).search([name], limit=1000)
        return {r.run_id: r.status for r in found}

    return list_runs, client, exp, searches


def finished(client, exp: str, end_ms: int | None = None) -> str:
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.set_terminated(run.info.run_id, "FINISHED", end_time=end_ms)
    return run.info.run_id


def unfiltered(searches: list[dict]) -> list[dict]:
    return [s for s in searches if not s.get("filter")]


def test_a_second_listing_asks_only_for_what_changed(listing):
    list_runs, client, exp, searches = listing
    ids = {finished(client, exp) for _ in range(5)}
    assert set(list_runs()) == ids
    assert len(unfiltered(searches)) == 1  # the first listing fetched everything
    searches.clear()
    new = finished(client, exp)
    assert set(list_runs()) == ids | {new}
    assert unfiltered(searches) == []  # only the changed runs were asked for
    assert list_runs() == list_runs(refresh=True)


def test_a_run_that_was_running_shows_how_it_ended_even_with_an_old_end_time(listing):
    list_runs, client, exp, searches = listing
    finished(client, exp)
    finished(client, exp)
    live = client.create_run(exp).info.run_id
    assert list_runs()[live] == "RUNNING"
    # as `mlrepo runs reap` does: ended FAILED at its last heartbeat, long before the margin
    client.set_terminated(live, "FAILED", end_time=int(time.time() * 1000) - 3 * index_module.MARGIN_MS)
    searches.clear()
    assert list_runs()[live] == "FAILED"
    assert unfiltered(searches) == []  # asked for by id, not found by a recount


def test_a_deleted_or_unseen_run_is_caught_by_the_count(listing):
    list_runs, client, exp, searches = listing
    ids = [finished(client, exp) for _ in range(4)]
    assert set(list_runs()) == set(ids)
    client.delete_run(ids[0])
    searches.clear()
    assert set(list_runs()) == set(ids[1:])
    assert len(unfiltered(searches)) == 1  # the count differed: everything fetched again
    client.restore_run(ids[0])
    old = finished(client, exp, end_ms=int(time.time() * 1000) - 3 * index_module.MARGIN_MS)
    assert set(list_runs()) == set(ids) | {old}


def test_refresh_and_a_damaged_index_fetch_everything(listing, tmp_path):
    list_runs, client, exp, searches = listing
    ids = {finished(client, exp) for _ in range(3)}
    list_runs()
    (index_file,) = (tmp_path / "index").glob("*.json")
    assert index_file.stat().st_mode & 0o777 == 0o600
    for damaged in ("{not json", '{"version": 1, "experiments": {"1": {}}, "runs": {"r": {}}}', "[]"):
        index_file.write_text(damaged)
        searches.clear()
        assert set(list_runs()) == ids
        assert len(unfiltered(searches)) == 1
    searches.clear()
    assert set(list_runs(refresh=True)) == ids
    assert len(unfiltered(searches)) == 1


def test_a_short_or_filtered_listing_does_not_use_the_index(listing, server, tmp_path):
    list_runs, client, exp, _ = listing
    finished(client, exp)
    name = client.get_experiment(exp).name
    assert len(RestReader(server).search([name], limit=2)) == 1
    assert len(RestReader(server).search([name], status="FINISHED", limit=1000)) == 1
    assert not (tmp_path / "index").exists()


def test_the_runs_of_a_deleted_experiment_leave_the_index(listing, server, tmp_path):
    list_runs, client, exp, _ = listing
    other = client.create_experiment(f"other-{tmp_path.name}")
    gone = {finished(client, other) for _ in range(3)}
    RestReader(server).search([f"other-{tmp_path.name}"], limit=1000)
    (index_file,) = (tmp_path / "index").glob("*.json")
    assert gone <= set(json.loads(index_file.read_text())["runs"])
    client.delete_experiment(other)
    kept = finished(client, exp)
    assert set(list_runs()) == {kept}
    assert set(json.loads(index_file.read_text())["runs"]) == {kept}
