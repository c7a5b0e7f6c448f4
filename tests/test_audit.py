"""The registry's audit trail (`mlrepo/server/audit.py`) on a real MLflow store (SQLite here; the
team server's PostgreSQL in tests/test_team_server.py): entries, unaudited moves, `--at` times."""

from datetime import UTC, datetime, timedelta

import pytest

from mlrepo.errors import UserError
from mlrepo.server import audit


@pytest.fixture
def registry(tracking_uri):
    """A registered model `Iris` with three versions (each from a run of its own), no alias yet."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    client.create_registered_model("Iris")
    runs = []
    for n in range(3):
        with mlflow.start_run(tags={"run.uid": f"uid-{n}"}) as run:
            mlflow.log_metric("accuracy", 0.9 + n / 100)
        runs.append(client.get_run(run.info.run_id))
        client.create_model_version("Iris", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return client, runs


def _promote(client, runs, number, previous, when=None, **extra):
    client.set_registered_model_alias("Iris", "champion", str(number))
    found = audit.entry("Iris", "champion", previous, str(number), run_id=runs[number - 1].info.run_id,
                        run_uid=f"uid-{number - 1}", who="alice", checks=["status FINISHED"], when=when,
                        **extra)  # fmt: skip
    audit.append(client, found)
    return found


def test_each_move_is_an_entry_oldest_first(registry):
    client, runs = registry
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    _promote(client, runs, 1, None, when=t0)
    _promote(client, runs, 2, "1", when=t0 + timedelta(hours=1), forced=True, reason="canary")
    entries = audit.history(client, "Iris", "bob")
    assert [(e["from"], e["to"], e["kind"]) for e in entries] == [
        (None, "1", "promote"),
        ("1", "2", "promote"),
    ]
    assert entries[1]["forced"] and entries[1]["reason"] == "canary" and entries[1]["who"] == "alice"
    text = audit.show_history(entries)
    assert "Iris@champion - -> 1" in text and "FORCED" in text and "reason: canary" in text
    assert "UNAUDITED" not in text


def test_a_move_outside_promote_shows_as_unaudited_once_and_is_kept(registry):
    client, runs = registry
    _promote(client, runs, 1, None, when=datetime(2026, 12, 1, 9, tzinfo=UTC))
    client.set_registered_model_alias("Iris", "champion", "3")  # straight through MLflow's API
    entries = audit.history(client, "Iris", "bob")
    assert entries[-1]["kind"] == "unaudited" and (entries[-1]["from"], entries[-1]["to"]) == ("1", "3")
    assert "noticed by bob" in entries[-1]["reason"]
    assert len(audit.history(client, "Iris", "carol")) == 2  # stored: not found a second time
    client.delete_registered_model_alias("Iris", "champion")
    assert audit.history(client, "Iris")[-1]["to"] is None  # an alias removed is a move too


def test_at_answers_what_the_alias_pointed_at_then(registry, tracking_uri, tmp_path, monkeypatch):
    client, runs = registry
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    _promote(client, runs, 1, None, when=t0)
    _promote(client, runs, 2, "1", when=t0 + timedelta(days=2))
    found = audit.trace_at(tracking_uri, "Iris@champion", "2026-12-01")
    assert found["at"]["entry"]["to"] == "1" and found["run"]["run_id"] == runs[0].info.run_id
    assert found["run"]["run_uid"] == "uid-0" and not found["at"]["unaudited"]
    assert audit.trace_at(tracking_uri, "Iris@champion", "2026-12-03T09:00Z")["at"]["entry"]["to"] == "2"
    assert audit.trace_at(tracking_uri, "Iris@champion", "2026-12-03T09:59+01:00")["at"]["entry"]["to"] == "1"
    with pytest.raises(UserError, match="pointed at no version .* first entry is at 2026-12-01T09:00"):
        audit.trace_at(tracking_uri, "Iris@champion", "2026-11-30")
    with pytest.raises(UserError, match="is not a date or time"):
        audit.trace_at(tracking_uri, "Iris@champion", "last tuesday")
    with pytest.raises(UserError, match="needs a registry alias"):
        audit.trace_at(tracking_uri, "Iris/2", "2026-12-01")
    client.set_registered_model_alias("Iris", "champion", "3")  # unaudited: noticed now
    found = audit.trace_at(tracking_uri, "Iris@champion", "2026-12-04")
    assert found["at"]["entry"]["to"] == "2" and "or already at 3" in found["at"]["unaudited"][0]
    now = datetime.now(UTC).isoformat()
    found = audit.trace_at(tracking_uri, "Iris@champion", now)
    assert found["at"]["entry"]["to"] == "3" and "set outside promote" in found["at"]["unaudited"][0]
    assert "UNAUDITED" in audit.show_at(found)


def test_an_unknown_model_is_a_user_error(registry):
    client, _ = registry
    with pytest.raises(UserError, match="no registered model 'Nope'"):
        audit.history(client, "Nope")


def test_a_long_reason_is_cut_to_fit_a_tag(registry):
    client, runs = registry
    _promote(client, runs, 1, None, reason="why " * 3000)
    (found,) = audit.history(client, "Iris")
    assert len(found["reason"]) == audit.MAX_REASON
