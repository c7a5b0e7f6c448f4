"""Sweeps (`python -m train -m ...`): a parent run groups the jobs, a progress bar counts them.

`SweepCallback` is a Hydra callback (see `hydra.callbacks` in `conf/config.yaml`). In the
process that launches the sweep it creates the parent MLflow run (tag `sweep.id`), hands the
sweep to the jobs through environment variables (which local workers and SLURM jobs inherit),
draws a progress bar while they run, and closes the parent run FINISHED or FAILED. Each job
records its exit code as a file in the sweep's folder: that works for every launcher.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

ENV_ID = "MLREPO_SWEEP_ID"
ENV_PARENT = "MLREPO_SWEEP_PARENT_RUN"
ENV_DIR = "MLREPO_SWEEP_DIR"
TAG_CACHED = "sweep.cached"
"""The parent run's tag listing the runs its cached jobs reported (they are not its children)."""

log = logging.getLogger("mlrepo.run.sweep")


class _Outcome:
    """What the last sweep in this process ended with (read by the entry point for its exit code)."""

    failed = 0
    total = 0


outcome = _Outcome()
#: The sweep this process has open, so that a crash or Ctrl-C can still close its parent run.
_open: SweepCallback | None = None


def job_tags() -> dict[str, str]:
    """The tags that tie a job's run to its sweep (`sweep.id`, `mlflow.parentRunId`), if in one."""
    tags = {}
    if os.environ.get(ENV_ID):
        tags["sweep.id"] = os.environ[ENV_ID]
    if os.environ.get(ENV_PARENT):
        tags["mlflow.parentRunId"] = os.environ[ENV_PARENT]
    return tags


def record_job(num: int, code: int) -> None:
    """Record that job `num` of the current sweep ended with exit code `code`."""
    folder = os.environ.get(ENV_DIR)
    if folder:
        (Path(folder) / f"job-{num}.exit").write_text(str(code))


def record_cached(run_id: str) -> None:
    """Record that a job of the current sweep reported the cached run `run_id` (no run of its own)."""
    folder = os.environ.get(ENV_DIR)
    if folder:
        (Path(folder) / f"cached-{run_id}").touch()


def cached_ids(folder: Path) -> list[str]:
    """The runs the jobs of a sweep reported as cached, recorded by `record_cached`."""
    return sorted(p.name.split("-", 1)[1] for p in folder.glob("cached-*"))


def results(folder: Path) -> dict[int, int]:
    """The exit codes the jobs of a sweep recorded so far, by job number."""
    return {int(p.stem.split("-")[1]): int(p.read_text() or 1) for p in folder.glob("job-*.exit")}


def count_jobs(overrides: list[str]) -> int:
    """How many jobs a sweep's command-line overrides expand to (`a=1,2 b=x,y` gives 4)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    total = 1
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            total *= len(list(override.sweep_string_iterator()))
    return total


def progress_line(done: int, total: int, failed: int, width: int = 24) -> str:
    """`[#########...............] 3/8 jobs done (1 failed)`."""
    filled = int(width * done / total) if total else width
    extra = f" ({failed} failed)" if failed else ""
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} jobs done{extra}"


class _Progress(threading.Thread):
    """Redraws the progress bar on stderr until stopped (one line per change when not a tty)."""

    def __init__(self, folder: Path, total: int) -> None:
        super().__init__(daemon=True)
        self.folder, self.total = folder, total
        self.stopped = threading.Event()
        self.last = ""

    def draw(self) -> None:
        codes = results(self.folder)
        line = progress_line(len(codes), self.total, sum(1 for c in codes.values() if c != 0))
        if line == self.last:
            return
        self.last = line
        if sys.stderr.isatty():
            sys.stderr.write("\r" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.draw()

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        self.draw()
        if sys.stderr.isatty():
            sys.stderr.write("\n")


class SweepCallback(Callback):
    """Hydra callback: the parent run, the progress bar and the outcome of a sweep."""

    def __init__(self) -> None:
        """Nothing happens until a multirun starts."""
        self.progress: _Progress | None = None
        self.folder: Path | None = None
        self.parent: str | None = None
        self.uri = ""
        self.total = 0
        self.cached: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Launchers pickle the callbacks for their workers: a worker needs none of this state."""
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle as a fresh callback."""
        self.__init__()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Create the sweep's folder and parent run, export them to the jobs, start the bar."""
        from mlrepo.track import tracking

        sweep_id = uuid.uuid4().hex[:12]
        overrides = list(config.hydra.overrides.task)
        self.total = count_jobs(overrides)
        self.folder = Path(str(config.paths.outputs)) / "sweeps" / sweep_id
        self.folder.mkdir(parents=True, exist_ok=True)
        pipeline = str(config.pipeline.name)
        self.cached = cached_jobs(config, overrides)
        if self.cached is not None:  # every job is a finished run already: no parent run to create
            print(f"Sweep {sweep_id}: all {self.total} jobs are cached runs; no parent run created:",
                  file=sys.stderr)  # fmt: skip
            for record in self.cached:
                print(f"  {record.run_id}  {record.tags.get('run.changed') or '(defaults)'}", file=sys.stderr)
            os.environ[ENV_DIR] = str(self.folder)
            self.progress = _Progress(self.folder, self.total)
            self.progress.start()
            return
        # The store's schema and the experiment exist before any job starts: parallel jobs
        # creating them race (see tracking.connect).
        self.uri = tracking.connect(tracking.resolve_uri(str(config.tracking.uri)))
        from mlflow.tracking import MlflowClient

        exp_id = tracking.experiment_id(pipeline, self.uri)
        tags = {
            "sweep.id": sweep_id,
            "sweep.total": str(self.total),
            "sweep.overrides": " ".join(overrides)[:5000],
            "pipeline": pipeline,
            "branch": str(OmegaConf.select(config, "branch.name", default="")),
            "mlflow.runName": f"sweep-{sweep_id}",
        }
        from mlrepo.run.runner import metric_tags

        tags.update(metric_tags(config))  # the card plots the pipeline's metric, best as its goal says
        self.parent = MlflowClient(self.uri).create_run(exp_id, tags=tags).info.run_id
        os.environ.update({ENV_ID: sweep_id, ENV_PARENT: self.parent, ENV_DIR: str(self.folder)})
        print(f"Sweep {sweep_id}: {self.total} jobs, parent run {self.parent}", file=sys.stderr)
        self.progress = _Progress(self.folder, self.total)
        self.progress.start()
        global _open
        _open = self

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Stop the bar, close the parent run, and remember how many jobs failed."""
        if self.progress is None or self.folder is None:
            return
        global _open
        _open = None
        self.progress.stop()
        codes = results(self.folder)
        failed = sum(1 for c in codes.values() if c != 0) + max(0, self.total - len(codes))
        outcome.failed, outcome.total = failed, self.total
        if self.parent is None:
            os.environ.pop(ENV_DIR, None)
            print(f"Sweep {self.folder.name}: {self.total - failed}/{self.total} jobs reported their cached "
                  "runs; nothing trained, no parent run", file=sys.stderr)  # fmt: skip
            return
        from mlflow.tracking import MlflowClient

        status = "FINISHED" if failed == 0 else "FAILED"
        client = MlflowClient(self.uri)
        client.set_tag(self.parent, "sweep.failed", str(failed))
        if cached_ids(self.folder):
            client.set_tag(self.parent, TAG_CACHED, ",".join(cached_ids(self.folder))[:5000])
        from mlrepo.track import card  # the parent's card compares its children

        client.log_text(self.parent, card.build(self.parent, self.uri, status=status), card.ARTIFACT)
        client.set_terminated(self.parent, status=status)
        for key in (ENV_ID, ENV_PARENT, ENV_DIR):
            os.environ.pop(key, None)
        print(
            f"Sweep {self.folder.name} {status}: {self.total - failed}/{self.total} jobs succeeded"
            + (f", {failed} failed (see `python -m train runs --sweep {self.folder.name}`)" if failed else "")
            + f"; parent run {self.parent}"
            + best_job(client, self.parent, cached_ids(self.folder)),
            file=sys.stderr,
        )

    def abandon(self, status: str) -> None:
        """End the parent run with `status` when the sweep stopped before its end (crash, Ctrl-C)."""
        from mlflow.tracking import MlflowClient

        if self.progress is not None:
            self.progress.stopped.set()
        if self.parent is None:
            os.environ.pop(ENV_DIR, None)
            return
        MlflowClient(self.uri).set_terminated(self.parent, status=status)
        for key in (ENV_ID, ENV_PARENT, ENV_DIR):
            os.environ.pop(key, None)
        print(f"\nSweep {self.folder.name if self.folder else '?'} ended {status}: parent run {self.parent}",
              file=sys.stderr)  # fmt: skip


def best_job(client: Any, parent: str, cached: list[str]) -> str:
    """`; best: run <id> rmse=... (minimize)` among a sweep's FINISHED jobs (its children and the runs
    its cached jobs reported), by the main metric and its goal; empty when none has the metric."""
    from mlrepo.run import metric

    run = client.get_run(parent)
    main = metric.of_run(run.data.params, run.data.tags)
    if main is None:
        return ""
    jobs = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'",
                              max_results=1000, order_by=["attributes.start_time DESC"])  # fmt: skip
    jobs = [*jobs, *(client.get_run(i) for i in cached)]
    done = [j for j in jobs if j.info.status == "FINISHED"]
    top = metric.best(done, lambda j: j.data.metrics.get(main.name), main.goal)
    if top is None:
        return ""
    return f"; best: run {top.info.run_id} {main.name}={top.data.metrics[main.name]:.4f} ({main.goal})"


def cached_jobs(config: DictConfig, overrides: list[str]) -> list[Any] | None:
    """The FINISHED runs the sweep's jobs would report as cached hits, or None if any must train.

    Only for Hydra's basic sweeper (the job list is known up front); `mode=force` always trains.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlrepo.run import runner
    from mlrepo.run.config import compose
    from mlrepo.track import runs, tracking

    sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    if sweeper and not sweeper.endswith("BasicSweeper"):
        return None
    batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)
    found = []
    for job in (job for batch in batches for job in batch):
        cfg = compose([o for o in job if not o.startswith("hydra")])
        mode = str(OmegaConf.select(cfg, "mode", default="cached"))
        if mode == "force":
            return None
        ident = runner.identity_of(cfg, job)
        uri = tracking.resolve_uri(str(cfg.tracking.uri))
        same = runs.reader(uri).search([str(cfg.pipeline.name)], uid=ident.uid, limit=20)
        hit = runner.previous_run(mode, same)
        if hit is None or hit.status != "FINISHED":
            return None
        found.append(hit)
    return found


def close_open_sweep(status: str) -> None:
    """Close the parent run of a sweep that did not reach its end (the entry point calls it)."""
    global _open
    if _open is not None:
        sweep, _open = _open, None
        sweep.abandon(status)
