"""`python -m mlrepo promote --history MODEL` with 1 000 promotions in the trail: how long?

Seeds a registered model of its own with two versions and N audit entries (`audit.append`,
through the API as `promote` writes them, the alias left where the last entry says), then times,
median of `--repeat`:

1. the baseline: `get_registered_model` alone (the one request the history needs);
2. `audit.history` (that request, the entries parsed and sorted, the unaudited-move check);
3. the whole command, `python -m mlrepo promote --history MODEL` (a fresh process: imports included).

Prints each and the ratio of (2) to (1); the model is deleted at the end. Against the team server
(logged in with MLFLOW_TRACKING_USERNAME/PASSWORD) or, without `--uri`, a throwaway SQLite store.

    .venv/bin/python bench/audit_history.py [--uri http://127.0.0.1:5050] [--promotions 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(client, model: str, count: int) -> None:
    """A registered model with versions 1 and 2 and `count` entries moving champion between them."""
    from mlrepo.server import audit

    client.create_registered_model(model)
    for _ in range(2):
        client.create_model_version(model, "s3://nowhere/model", run_id=None)
    start = datetime.now(UTC) - timedelta(days=count)
    previous = None
    for i in range(count):
        to = str(1 + i % 2)
        found = audit.entry(model, "champion", previous, to, run_id=f"{i:032x}", run_uid=f"uid{i}",
                            who="bench", checks=["status FINISHED", "branch production"], reason="bench",
                            when=start + timedelta(days=i))  # fmt: skip
        audit.append(client, found)
        previous = to
    client.set_registered_model_alias(model, "champion", previous)


def timed(call, repeat: int) -> float:
    """The median seconds of `call()` over `repeat` calls."""
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def main() -> int:
    """Seed, time, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uri", default=None)
    parser.add_argument("--promotions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from mlflow.tracking import MlflowClient

    from mlrepo.server import audit

    tmp = tempfile.TemporaryDirectory()
    uri = args.uri or f"sqlite:///{tmp.name}/mlflow.db"
    client = MlflowClient(uri)
    model = f"AuditBench{int(time.time())}"
    begin = time.perf_counter()
    seed(client, model, args.promotions)
    print(f"seeded {args.promotions} promotions of {model} on {uri} in {time.perf_counter() - begin:.1f} s")
    try:
        entries = audit.history(client, model, "bench")
        assert len(entries) == args.promotions and entries[-1]["kind"] == "promote", len(entries)
        base = timed(lambda: client.get_registered_model(model), args.repeat)
        listing = timed(lambda: audit.history(client, model, "bench"), args.repeat)
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
        command = [sys.executable, "-m", "mlrepo", "promote", "--history", model]

        def cli() -> None:
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0 and done.stdout.count("\n") >= args.promotions, done.stderr[-2000:]

        whole = timed(cli, args.repeat)
        print(f"get_registered_model (baseline): {base:.3f} s")
        print(
            f"audit.history, {args.promotions} entries: {listing:.3f} s ({listing / base:.2f}x the baseline)"
        )
        print(f"python -m mlrepo promote --history: {whole:.3f} s (a fresh process, imports included)")
    finally:
        client.delete_registered_model(model)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
