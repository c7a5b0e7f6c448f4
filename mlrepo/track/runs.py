"""Read runs from the tracking store quickly, and list them: `python -m train runs`.

Quick commands (a cached hit, the listing) must not pay for `import mlflow` (1.5 s): a SQLite
store is read directly with `sqlite3`, read-only; a tracking server through its REST API with
`urllib`; any other store through `MlflowClient`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlrepo import ROOT
from mlrepo.errors import UserError

STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TAG_UID = "run.uid"
TAG_CHANGED = "run.changed"
TAG_SWEEP = "sweep.id"
TAG_SWEEP_TOTAL = "sweep.total"
TAG_PARENT = "mlflow.parentRunId"
#: Runs per `runs/search` page, and pages asked for at once from a tracking server.
PAGE = 1000
PARALLEL_PAGES = 4


@dataclass
class RunRecord:
    """One run as the store holds it.

    Attributes:
        run_id: the MLflow run id.
        experiment: the experiment name (the pipeline's name).
        status: RUNNING, FINISHED, FAILED, KILLED or SCHEDULED.
        start_time: start, in milliseconds since the epoch.
        tags: the run's tags.
        params: the run's params.
        metrics: the latest value of each metric.
    """

    run_id: str
    experiment: str
    status: str
    start_time: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class SqliteReader:
    """Reads a SQLite MLflow store read-only with `sqlite3` (no MLflow import)."""

    def __init__(self, path: Path) -> None:
        """Read the store in the file `path` (a missing file is an empty store)."""
        self.path = path

    def search(
        self,
        experiments: Sequence[str] | None = None,
        uid: str | None = None,
        status: str | None = None,
        sweep: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Active runs, newest first, filtered by experiment names, `run.uid`, status, `sweep.id`."""
        if not self.path.exists():
            return []
        where, args = ["r.lifecycle_stage = 'active'"], []
        if experiments:
            where.append(f"e.name IN ({','.join('?' * len(experiments))})")
            args.extend(experiments)
        if status:
            where.append("r.status = ?")
            args.append(status)
        for key, value in ((TAG_UID, uid), (TAG_SWEEP, sweep)):
            if value:
                where.append("r.run_uuid IN (SELECT run_uuid FROM tags WHERE key = ? AND value = ?)")
                args.extend([key, value])
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                "SELECT r.run_uuid, e.name, r.status, r.start_time FROM runs r "
                "JOIN experiments e ON e.experiment_id = r.experiment_id "
                f"WHERE {' AND '.join(where)} ORDER BY r.start_time DESC LIMIT ?",
                [*args, limit],
            ).fetchall()
            if not rows:
                return []
            records = {rid: RunRecord(rid, exp, status, start or 0) for rid, exp, status, start in rows}
            marks = ",".join("?" * len(records))
            ids = list(records)
            for rid, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", ids
            ):
                records[rid].tags[key] = value
            for rid, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({marks})", ids
            ):
                records[rid].params[key] = value
            for rid, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM latest_metrics WHERE run_uuid IN ({marks})", ids
            ):
                records[rid].metrics[key] = value
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store whose schema is not created yet
                return []
            raise
        finally:
            conn.close()
        return list(records.values())


class RestReader:
    """Reads an MLflow tracking server through its REST API with `urllib` (no MLflow import)."""

    def __init__(self, base: str, refresh: bool = False) -> None:
        """Read the server at `base` (`http://host:port`); `refresh`: ignore the local run index."""
        self.base = base.rstrip("/")
        self.refresh = refresh

    def post(self, endpoint: str, body: dict) -> dict:
        """POST `body` to the REST endpoint `api/2.0/mlflow/<endpoint>`; its JSON answer."""
        from mlrepo.server.auth import request  # credentials from MLFLOW_TRACKING_* or ~/.netrc

        return request(self.base, "POST", f"api/2.0/mlflow/{endpoint}", body)

    def search(
        self,
        experiments: Sequence[str] | None = None,
        uid: str | None = None,
        status: str | None = None,
        sweep: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Active runs, newest first, filtered by experiment names, `run.uid`, status, `sweep.id`.

        A listing longer than one page with no filter goes through the local run index
        (`mlrepo.server.index`): the server is asked only for the runs that changed.
        """
        answer = self.post("experiments/search", {"max_results": 1000})
        found = answer.get("experiments", [])
        names = {e["experiment_id"]: e["name"] for e in found if not experiments or e["name"] in experiments}
        if not names:
            return []
        clauses = [f"tags.`{k}` = '{v}'" for k, v in ((TAG_UID, uid), (TAG_SWEEP, sweep)) if v]
        if status:
            clauses.append(f"attributes.status = '{status}'")
        if clauses or limit <= PAGE:
            body = {
                "experiment_ids": list(names),
                "filter": " and ".join(clauses),
                "order_by": ["attributes.start_time DESC"],
            }
            return [_record(run, names) for run in self.pages(body, limit)]
        from mlrepo.server.auth import credentials
        from mlrepo.server.index import RunIndex

        user = (credentials(self.base) or (None, None))[0]
        alive = None if answer.get("next_page_token") else {e["experiment_id"] for e in found}
        runs = RunIndex.for_server(self.base, user).runs(list(names), self, self.refresh, alive)
        records = [_record(run, names) for run in runs]
        records.sort(key=lambda r: (r.start_time, r.run_id), reverse=True)
        return records[:limit]

    def pages(self, body: dict, limit: int) -> list[dict]:
        """Up to `limit` runs of `runs/search`, in pages of at most `PAGE` runs.

        MLflow's SQL store pages by offset (its token is base64 JSON `{"offset": N}`): once the
        first page shows that token, the next pages are asked for a few at a time, in parallel,
        which the server's workers answer together. Any other token is followed page by page.
        """
        answer = self.post("runs/search", {**body, "max_results": min(PAGE, limit)})
        found: list[dict] = answer.get("runs", [])
        token = answer.get("next_page_token")
        if token and _offset(token) == len(found):
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(PARALLEL_PAGES) as pool:
                while token and len(found) < limit:
                    offsets = range(len(found), min(limit, len(found) + PARALLEL_PAGES * PAGE), PAGE)
                    pages = [{**body, "max_results": min(PAGE, limit - at), "page_token": _token(at)}
                             for at in offsets]  # fmt: skip
                    answers = list(pool.map(lambda page: self.post("runs/search", page), pages))
                    short = False
                    for answer, page in zip(answers, pages, strict=True):
                        found.extend(answer.get("runs", []))
                        short = short or len(answer.get("runs", [])) < page["max_results"]
                    token = None if short else answers[-1].get("next_page_token")
            return found[:limit]
        while token and len(found) < limit:
            page = {**body, "max_results": min(PAGE, limit - len(found)), "page_token": token}
            answer = self.post("runs/search", page)
            found.extend(answer.get("runs", []))
            token = answer.get("next_page_token")
        return found


def _record(run: dict, names: dict[str, str]) -> RunRecord:
    """A run of a `runs/search` answer (REST JSON) as a record; `names`: experiment names by id."""
    info, data = run["info"], run.get("data", {})
    return RunRecord(
        run_id=info["run_id"],
        experiment=names.get(info["experiment_id"], "?"),
        status=info["status"],
        start_time=int(info.get("start_time", 0)),
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
        params={p["key"]: p["value"] for p in data.get("params", [])},
        metrics={m["key"]: m["value"] for m in data.get("metrics", [])},
    )


def _offset(token: str) -> int | None:
    """The offset in an MLflow SQL-store page token, or None for a token of another kind."""
    import base64

    try:
        value = json.loads(base64.b64decode(token)).get("offset")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _token(offset: int) -> str:
    """The page token of an MLflow SQL store for the runs from `offset` on."""
    import base64

    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


class ClientReader:
    """Reads any other store with `MlflowClient` (imports MLflow: slower to start)."""

    def __init__(self, uri: str) -> None:
        """Read the store at `uri`."""
        self.uri = uri

    def search(
        self,
        experiments: Sequence[str] | None = None,
        uid: str | None = None,
        status: str | None = None,
        sweep: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Active runs, newest first, filtered by experiment names, `run.uid`, status, `sweep.id`."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self.uri)
        found = client.search_experiments()
        names = {e.experiment_id: e.name for e in found if not experiments or e.name in experiments}
        if not names:
            return []
        clauses = [f"tags.`{k}` = '{v}'" for k, v in ((TAG_UID, uid), (TAG_SWEEP, sweep)) if v]
        if status:
            clauses.append(f"attributes.status = '{status}'")
        runs = client.search_runs(
            list(names), " and ".join(clauses), max_results=limit, order_by=["attributes.start_time DESC"]
        )
        return [
            RunRecord(
                r.info.run_id,
                names.get(r.info.experiment_id, "?"),
                r.info.status,
                int(r.info.start_time or 0),
                dict(r.data.tags),
                dict(r.data.params),
                dict(r.data.metrics),
            )
            for r in runs
        ]


def reader(uri: str, refresh: bool = False) -> SqliteReader | RestReader | ClientReader:
    """The quickest reader for the store at `uri` (an absolute URI, see `tracking.resolve_uri`).

    `refresh`: a tracking server's reader fetches every run instead of using its local index.
    """
    from mlrepo.track.tracking import sqlite_path

    db = sqlite_path(uri)
    if db is not None:
        return SqliteReader(db)
    if uri.startswith(("http://", "https://")):
        return RestReader(uri, refresh)
    return ClientReader(uri)


# --- the listing --------------------------------------------------------------------------


def age(start_ms: int, now: float | None = None) -> str:
    """How long ago `start_ms` was, in the largest unit that fits (`42s`, `5m`, `3h`, `2d`)."""
    seconds = max(0, int((now if now is not None else time.time()) - start_ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe(record: RunRecord) -> tuple[str, str]:
    """The CHANGED and METRIC cells of a run: its non-default values, its main metric."""
    tags = record.tags
    if tags.get(TAG_PARENT) is None and TAG_SWEEP in tags and TAG_UID not in tags:
        changed = f"[sweep {tags[TAG_SWEEP][:8]}: {tags.get(TAG_SWEEP_TOTAL, '?')} jobs]"
    else:
        changed = tags.get(TAG_CHANGED, "") or "(defaults)"
    from mlrepo.run.metric import of_run

    main = of_run(record.params, record.tags)
    name = main.name if main else None
    metric = f"{name}={record.metrics[name]:.4f}" if name in record.metrics else "-"
    return changed, metric


def table(records: Sequence[RunRecord], now: float | None = None) -> str:
    """Format runs as a table: STATUS, PIPELINE, UID, RUN, CHANGED, METRIC, AGE.

    A RUNNING run whose heartbeat stopped shows as LOST (`mlrepo.run.heartbeat`).
    """
    from mlrepo.run.heartbeat import shown_status

    header = ("STATUS", "PIPELINE", "UID", "RUN", "CHANGED", "METRIC", "AGE")
    rows = [header]
    for r in records:
        changed, metric = describe(r)
        uid = r.tags.get(TAG_UID, "")[:8] or "-"
        status, pipeline = shown_status(r, now), r.tags.get("pipeline", r.experiment)
        rows.append((status, pipeline, uid, r.run_id[:8], changed, metric, age(r.start_time, now)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )


def reap(uri: str) -> list[RunRecord]:
    """End FAILED every RUNNING run of the store `uri` whose heartbeat stopped; return them."""
    from mlrepo.run import heartbeat

    running = reader(uri).search(status="RUNNING", limit=100000)
    return heartbeat.reap(uri, [r for r in running if heartbeat.is_lost(r)])


def store_uri(branch: str = "development", explicit: str | None = None) -> str:
    """The store a command reads: `--uri`, else MLFLOW_TRACKING_URI, else the super-branch's."""
    from omegaconf import OmegaConf

    from mlrepo.track.tracking import resolve_uri

    if explicit:
        return resolve_uri(explicit)
    path = ROOT / "conf" / "branch" / f"{branch}.yaml"
    if not path.is_file():
        raise UserError(f"Unknown super-branch '{branch}': there is no conf/branch/{branch}.yaml.")
    return resolve_uri(str(OmegaConf.load(path).tracking.uri))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m train runs`: list runs, newest first; `--watch` refreshes until Ctrl-C.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(
        prog="python -m train runs", description="List tracked runs, newest first."
    )
    parser.add_argument("--pipeline", help="only this pipeline (experiment)")
    parser.add_argument("--status", type=str.upper, choices=(*STATUSES, "LOST"),
                        help="only runs in this status (LOST: RUNNING without a heartbeat)")  # fmt: skip
    parser.add_argument("--sweep", help="only the runs of this sweep.id")
    parser.add_argument("--limit", type=int, default=30, help="at most this many runs (default 30)")
    parser.add_argument("--branch", default="development", help="read this super-branch's store")
    parser.add_argument(
        "--uri", help="read this tracking URI (default: MLFLOW_TRACKING_URI, else the branch's)"
    )
    parser.add_argument(
        "--refresh", action="store_true",
        help="a tracking server: fetch every run again, not only what changed since the last listing",
    )  # fmt: skip
    parser.add_argument("--watch", action="store_true", help="refresh every --interval seconds")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    try:
        uri = store_uri(args.branch, args.uri)
        source = reader(uri, args.refresh)

        def show() -> str:
            found = source.search(
                [args.pipeline] if args.pipeline else None,
                status="RUNNING" if args.status == "LOST" else args.status,
                sweep=args.sweep,
                limit=args.limit,
            )
            if args.status == "LOST":
                from mlrepo.run.heartbeat import is_lost

                found = [r for r in found if is_lost(r)]
            if not found:
                return "No runs match."
            from mlrepo.run.tasks import group_runs

            groups = group_runs(found)
            if len(groups) == 1:
                return table(found)
            return "\n\n".join(f"{task} pipelines:\n{table(rows)}" for task, rows in groups.items())

        if not args.watch:
            print(show())
            return 0
        while True:
            text = show()
            sys.stdout.write("\033[2J\033[H" if sys.stdout.isatty() else "\n")
            print(f"{time.strftime('%H:%M:%S')}  {uri}  (Ctrl-C to stop)\n{text}", flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
