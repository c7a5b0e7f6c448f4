"""What the card costs a run: the same run with and without `card.html` (target: < 0.5 s more).

In one process, into one throwaway SQLite store, each pipeline is run with `mode=force`,
alternately with the card and with `mlrepo.track.card.log_card` replaced by a no-op, so that drift
hits both alike. Prints, per pipeline, the median wall time of `runner.run` with and without
the card, their difference and ratio, and the median time of `log_card` itself.

    .venv/bin/python bench/card.py [--repeat 5] [--pipelines train_iris estudy_iris dataset_digits]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pipelines", nargs="+", default=["train_iris", "estudy_iris", "dataset_digits"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/mlflow.db",
            MLFLOW_DISABLE_TELEMETRY="true",
            MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        )
        from mlrepo.run import runner
        from mlrepo.run.config import compose
        from mlrepo.track import card

        real = card.log_card
        card_times: list[float] = []

        def timed(run_id: str) -> None:
            start = time.perf_counter()
            real(run_id)
            card_times.append(time.perf_counter() - start)

        def once(pipeline: str, with_card: bool) -> float:
            overrides = [
                f"pipeline={pipeline}",
                "mode=force",
                f"paths.data={tmp}/data",
                "logging.level=WARNING",
            ]
            cfg = compose(overrides)
            card.log_card = timed if with_card else (lambda run_id: None)
            start = time.perf_counter()
            code = runner.run(cfg, overrides)
            elapsed = time.perf_counter() - start
            if code != 0:
                sys.exit(f"{pipeline} exited {code}")
            return elapsed

        rows = []
        for pipeline in ["train_iris", *[p for p in args.pipelines if p != "train_iris"]]:
            once(pipeline, True)  # warm-up: schema, experiment, imports (estudy_iris needs a train_iris run)
            card_times.clear()
            with_card, without = [], []
            for i in range(args.repeat):  # alternating which goes first, so drift hits both alike
                for flag in (True, False) if i % 2 == 0 else (False, True):
                    (with_card if flag else without).append(once(pipeline, flag))
            w, wo = statistics.median(with_card), statistics.median(without)
            rows.append((pipeline, w, wo, statistics.median(card_times)))
        card.log_card = real
    print(f"\nmedian of {args.repeat} runs each, same process, same store (target: card adds < 0.5 s)")
    print(f"{'pipeline':16} {'with card':>10} {'without':>10} {'added':>8} {'ratio':>7} {'log_card':>9}")
    for pipeline, w, wo, c in rows:
        print(f"{pipeline:16} {w:9.3f}s {wo:9.3f}s {w - wo:7.3f}s {w / wo:7.3f} {c:8.3f}s")


if __name__ == "__main__":
    main()
