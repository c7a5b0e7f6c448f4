"""A local index of a tracking server's runs: a long listing asks the server only what changed.

MLflow's server builds every run it answers from its database rows, ~0.3 s of its CPU per
1000 runs here: listing 10 000 runs page by page costs ~3 s on two cores however the pages are
asked for (bench/server_runs.py). A run that has ended changes rarely, so `python -m train
runs` keeps the runs it listed in `.mlflow/index/<server and user>.json` (git-ignored) and,
for a listing longer than one page, asks the server only for:

1. the runs that ended since the latest end the index holds, less a minute for clients whose
   clocks differ (`MARGIN_MS`);
2. the runs that are RUNNING or SCHEDULED now, and those the index last saw so (by id);
3. how many runs there are (one probe at the expected offset). A count that differs from the
   merged list (a run deleted or restored, or ended with an end time older than the margin)
   fetches every run again, as `--refresh` always does.

What a listing shows of an ended run (status, pipeline, run.uid, changed values, main metric,
age) is fixed when it ends. A tag or metric set on an ended run after it was indexed (the
deploy lineage tags, `study.studied_by`) shows after `--refresh`; nothing else reads the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrepo import ROOT

if TYPE_CHECKING:
    from mlrepo.track.runs import RestReader

#: Where the indexes live (one file per server and user: permissions differ by user).
INDEX_DIR = ROOT / ".mlflow" / "index"
#: Runs that ended this long before the latest indexed end are asked for again: clients' clocks
#: differ. A run that ended earlier still and was never indexed makes the count differ (step 3).
MARGIN_MS = 60 * 1000
ENDED = ("FINISHED", "FAILED", "KILLED")
VERSION = 1
#: Run ids per `attributes.run_id IN (...)` query.
ID_CHUNK = 100
#: The order every search here asks for (offsets are only stable under one order).
ORDER = {"order_by": ["attributes.start_time DESC"]}


class RunIndex:
    """The runs of one tracking server as one user last listed them.

    Attributes:
        path: the index file.
    """

    def __init__(self, path: Path) -> None:
        """The index kept in `path` (a missing or unreadable file is an empty index)."""
        self.path = path

    @classmethod
    def for_server(cls, base: str, user: str | None) -> RunIndex:
        """The index of the server at `base` as `user` sees it."""
        key = hashlib.sha256(f"{base.rstrip('/')}\n{user or ''}".encode()).hexdigest()[:16]
        return cls(INDEX_DIR / f"{key}.json")

    def _load(self) -> dict[str, Any]:
        """The index as saved; an empty one for a missing, damaged or other-version file."""
        empty = {"version": VERSION, "experiments": {}, "runs": {}}
        try:
            state = json.loads(self.path.read_text())
            experiments, runs = state["experiments"], state["runs"]
            whole = (
                state["version"] == VERSION
                and all(isinstance(seen, dict) for seen in experiments.values())
                and all({"run_id", "experiment_id", "status"} <= set(run["info"]) for run in runs.values())
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return empty
        return state if whole else empty

    def _save(self, state: dict[str, Any]) -> None:
        """Write atomically (temp + rename): two listings at once leave one whole index."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:  # dumps: json.dump encodes in Python, 6x slower
                out.write(json.dumps(state, separators=(",", ":")))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def runs(
        self,
        experiment_ids: list[str],
        server: RestReader,
        refresh: bool = False,
        alive: set[str] | None = None,
    ) -> list[dict]:
        """Every active run of the experiments, as `runs/search` answers them, and update the index.

        Args:
            experiment_ids: the experiments to list.
            server: the server's reader (`post` a request, follow a search's `pages`).
            refresh: fetch every run again instead of what changed.
            alive: every active experiment on the server, when known: the index forgets the
                runs of any other (a deleted experiment's runs would otherwise stay in the file).

        Returns:
            The runs (REST JSON objects: `info`, `data`), in no particular order.
        """
        state = self._load()
        known: dict[str, dict] = state["runs"]
        synced: dict[str, dict] = state["experiments"]
        gone = set() if alive is None else set(synced) - alive
        if gone:
            known = {rid: run for rid, run in known.items() if run["info"]["experiment_id"] not in gone}
            synced = {eid: seen for eid, seen in synced.items() if eid not in gone}
        cold = [e for e in experiment_ids if refresh or e not in synced]
        warm = [e for e in experiment_ids if e not in cold]
        current: dict[str, dict] = {}
        if warm:
            changed = _changed(warm, known, synced, server)
            kept = {
                rid: run
                for rid, run in known.items()
                if run["info"]["experiment_id"] in warm and run["info"]["status"] in ENDED
            }
            merged = {**kept, **changed}
            if _count_is(warm, len(merged), server):
                current.update(merged)
            else:
                cold += warm
        if cold:
            for run in server.pages({"experiment_ids": cold, **ORDER}, sys.maxsize):
                current[run["info"]["run_id"]] = run
        listed = set(experiment_ids)
        before = {rid: run for rid, run in known.items() if run["info"]["experiment_id"] in listed}
        if gone or current != before or not listed <= set(synced):
            known = {rid: run for rid, run in known.items() if rid not in before}
            known.update(current)
            for eid in experiment_ids:
                ends = [
                    int(run["info"].get("end_time") or 0)
                    for run in current.values()
                    if run["info"]["experiment_id"] == eid and run["info"]["status"] in ENDED
                ]
                synced[eid] = {"latest_end": max(ends, default=0)}
            self._save({"version": VERSION, "experiments": synced, "runs": known})
        return list(current.values())


def _changed(
    warm: list[str], known: Mapping[str, dict], synced: Mapping[str, dict], server: RestReader
) -> dict:
    """The runs of `warm` experiments that may differ from the index: ended lately, or live."""
    since = min(int(synced[e].get("latest_end", 0)) for e in warm) - MARGIN_MS
    filters = [
        f"attributes.end_time > {since}",
        "attributes.status = 'RUNNING'",
        "attributes.status = 'SCHEDULED'",
    ]
    live = [
        rid
        for rid, run in known.items()
        if run["info"]["experiment_id"] in warm and run["info"]["status"] not in ENDED
    ]
    for at in range(0, len(live), ID_CHUNK):
        filters.append(
            "attributes.run_id IN ({})".format(",".join(f"'{rid}'" for rid in live[at : at + ID_CHUNK]))
        )
    found: dict[str, dict] = {}
    for clause in filters:
        for run in server.pages({"experiment_ids": warm, "filter": clause, **ORDER}, sys.maxsize):
            found[run["info"]["run_id"]] = run
    return found


def _count_is(experiment_ids: list[str], count: int, server: RestReader) -> bool:
    """Whether the experiments hold exactly `count` active runs: one probe at offset count - 1.

    MLflow's stores page by offset (the token is base64 JSON `{"offset": N}`): asked for two runs
    from offset count - 1, exactly one comes back when there are `count`. A server that pages
    otherwise answers something else, or an error, and the index is then not trusted.
    """
    from mlrepo.errors import UserError
    from mlrepo.track.runs import _token

    body: dict[str, Any] = {"experiment_ids": experiment_ids, "max_results": 2, **ORDER}
    if count:
        body["page_token"] = _token(count - 1)
    try:
        probe = server.post("runs/search", body).get("runs", [])
    except UserError:  # e.g. a 400 for a token of another kind
        return False
    return len(probe) == min(count, 1)
