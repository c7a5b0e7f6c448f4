"""The runner behind `python -m train`: one composed config in, one tracked MLflow run out.

`run(cfg, overrides)` is a plain function (tests call it); `launch(main)` wraps the Hydra
entry point with the command-line checks and exit codes:

| exit | meaning |
|------|---------|
| 0    | the run FINISHED |
| 1    | `train` raised: the run is FAILED, its traceback saved as the artifact `error/traceback.txt` |
| 2    | a user mistake (unknown pipeline, bad override, dirty tree in production): nothing ran |
| 2    | a `UserError` inside `train` (a bad table name, an unsaveable model): the run is FAILED |
| 130  | interrupted (Ctrl-C, SIGTERM): the run is KILLED |

Before anything is imported for training, the run's identity (`mlrepo.run.identity`) and `mode`
decide whether to train: `cached` (default) reports a FINISHED run with the same `run.uid`
instead, `retry` trains only when the last such run FAILED or was KILLED, `force` always trains.
A sweep exits 1 when any of its jobs failed.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType

from omegaconf import DictConfig, OmegaConf

from mlrepo import ROOT
from mlrepo.errors import UserError
from mlrepo.run import heartbeat, identify, identity, tasks
from mlrepo.run.config import check_choices, compose
from mlrepo.run.identity import Identity
from mlrepo.track import gitinfo, runs, tracking

log = logging.getLogger("mlrepo.run.runner")

EXIT_FAILED = 1
EXIT_KILLED = 130
MODES = ("cached", "force", "retry")
TAG_PREFIX_GIT = "git."
#: Hydra flags that take a value as the next argument.
_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                     "--experimental-rerun", "--info", "-i"}  # fmt: skip
_INFO_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc",
               "--version"}  # fmt: skip


class Interrupted(BaseException):
    """Raised in the main thread on SIGTERM, so a cancelled job ends KILLED like Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted()


def split_argv(argv: Sequence[str]) -> tuple[list[str], bool, bool]:
    """Split a command line into (overrides, multirun, informational)."""
    overrides: list[str] = []
    multirun = informational = False
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-m", "--multirun"):
            multirun = True
        elif arg.split("=")[0] in _INFO_FLAGS:
            informational = True
        elif arg in _FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides, multirun, informational


def launch(main: Callable[[], None], argv: Sequence[str] | None = None) -> None:
    """Check the command line, then hand over to the Hydra entry point `main`.

    A user mistake is reported in one paragraph with exit code 2, before Hydra or any model
    library does work.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--no-wait" in argv:  # Hydra knows no such flag: it becomes the config value wait=false
        argv = [a for a in argv if a != "--no-wait"] + ["wait=false"]
        sys.argv[1:] = argv
    if "--help" in argv or "-h" in argv:
        print(usage())
        return
    overrides, multirun, informational = split_argv(argv)
    if not informational:
        try:
            check_choices(overrides)
            if not multirun:
                compose(overrides)  # a bad key or value fails here, in one clear paragraph
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
    if not multirun:
        main()
        return
    from mlrepo.run import launcher, sweep

    launcher.register()  # `launcher=local` names it; Hydra instantiates it
    try:
        main()
    except KeyboardInterrupt:
        sweep.close_open_sweep("KILLED")
        sys.exit(EXIT_KILLED)
    finally:
        sweep.close_open_sweep("FAILED")  # only when the launcher crashed before the sweep's end
    if sweep.outcome.failed:
        sys.exit(EXIT_FAILED)


def skip_final_collection() -> None:
    """Let the process exit without the interpreter's last garbage collections (`python -m train` calls it).

    With MLflow, scikit-learn and skops loaded, the collections Python runs while it tears its
    ~4000 modules down took 1.1 s of every command (measured 2026-11-26 on 2 cores, a `mode=retry`
    of the step-cache bench: 1.2 s from the last exit handler to the process's end, 0.1 s with
    the freeze). `gc.freeze()` as the first exit handler registered
    (the last to run) moves every object left into the permanent generation, which those
    collections skip. Nothing is lost: `atexit` handlers, `weakref.finalize` and reference
    counting still run; only objects kept alive by reference cycles are left to the operating
    system, as Python already allows at exit. Tests calling `run` in-process never call this.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


def usage() -> str:
    """The `python -m train --help` text: usage, the pipelines and super-branches there are."""
    from mlrepo.run.config import available

    return "\n".join(
        [
            "usage: python -m train pipeline=<name> [branch=development|production] [key=value ...]",
            "       python -m train -m pipeline=<name> key=a,b,c [launcher=local|slurm]  (a sweep)",
            "       python -m train runs [--pipeline P] [--status S] [--watch]      (list runs)",
            "",
            "Runs train/<code>/pipeline.py:train(config) as one tracked MLflow run.",
            "",
            "pipelines, by task (what train(config) returns):",
            *tasks.usage_lines(available("pipeline")),
            f"super-branches: {', '.join(available('branch'))}  (default: development)",
            "",
            "Override any config value with key=value; see the composed config with --cfg job.",
            "mode=cached (default) reports a finished run with the same run.uid instead of training;",
            "mode=retry trains again only if that run failed; mode=force always trains.",
            "A run identical to one still training waits for it (--no-wait: train anyway).",
            "MLFLOW_TRACKING_URI overrides the super-branch's tracking URI.",
            "Exit codes: 0 finished, 1 the run failed, 2 a mistake in the command, 130 interrupted.",
        ]
    )


def task(cfg: DictConfig) -> None:
    """The body of the Hydra entry point: run, then exit with the run's code when non-zero.

    In a sweep a job does not exit: it records its code, so that one failed job does not stop
    the others; the sweep exits non-zero at the end (see `launch`).
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    try:
        code = run(cfg, overrides)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    if hydra_cfg.mode == RunMode.MULTIRUN:
        from mlrepo.run import sweep

        sweep.record_job(int(hydra_cfg.job.num), code)
    elif code != 0:
        sys.exit(code)


def load_pipeline(code: str) -> ModuleType:
    """Import `train/<code>/pipeline.py` and check that it defines `train(config)`.

    Raises:
        UserError: the module or its `train` function is missing.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    name = f"train.{code}.pipeline"
    if not (ROOT / "train" / code / "pipeline.py").exists():
        raise UserError(f"pipeline.code is '{code}', but train/{code}/pipeline.py does not exist.")
    module = importlib.import_module(name)
    if not callable(getattr(module, "train", None)):
        raise UserError(f"train/{code}/pipeline.py must define `train(config: DictConfig)` at module level.")
    return module


def run_tags(cfg: DictConfig, git: gitinfo.GitInfo, ident: Identity | None = None) -> dict[str, str]:
    """The tags every run carries: pipeline, branch, identity, git state, dataset version, sweep."""
    from mlrepo.run.sweep import job_tags

    tags = {
        "pipeline": str(cfg.pipeline.name),
        "branch": str(cfg.branch.name),
        "git.commit": git.commit,
        "git.branch": git.branch,
        "git.dirty": str(git.dirty).lower(),
    }
    if ident is not None:
        tags[runs.TAG_UID] = ident.uid
        tags[runs.TAG_CHANGED] = ident.changed_text()[:5000]
    version = OmegaConf.select(cfg, "data.version")
    if version is not None:
        tags["dataset.version"] = str(version)
    tags.update(metric_tags(cfg))
    tags.update(job_tags())
    return tags


def metric_tags(cfg: DictConfig) -> dict[str, str]:
    """`metric.name` and `metric.goal` of a pipeline that declares a metric or a task kind (else none)."""
    from mlrepo.run import metric

    if OmegaConf.select(cfg, "pipeline.metric") is None and OmegaConf.select(cfg, "pipeline.task") is None:
        return {}
    main = metric.of_config(cfg)
    return {metric.TAG_NAME: main.name, metric.TAG_GOAL: main.goal}


def identity_of(cfg: DictConfig, overrides: Sequence[str] = ()) -> Identity:
    """The run identity of `cfg` (`identify.of_run`, as the gates compute it); defaults: no overrides."""
    choices = identity.group_choices(overrides) or [f"pipeline={cfg.pipeline.name}"]
    return identify.of_run(cfg, compose(choices[-1:]))


def previous_run(mode: str, found: Sequence[runs.RunRecord]) -> runs.RunRecord | None:
    """The run that makes training unnecessary under `mode`, among runs with the same uid.

    Args:
        mode: `cached` (a FINISHED run is enough), `retry` (the last run, unless it FAILED or was
            KILLED), or `force` (never).
        found: the runs with the same `run.uid`, newest first.

    Returns:
        That run, or None when the pipeline must train.
    """
    if mode == "cached":
        return next((r for r in found if r.status == "FINISHED"), None)
    if mode == "retry" and found and found[0].status not in ("FAILED", "KILLED"):
        return found[0]
    return None


def _ui(uri: str) -> str:
    """Where a person looks at runs of the store `uri`."""
    return uri if uri.startswith("http") else "make mlflow-ui, then http://127.0.0.1:5000"


def _report_previous(record: runs.RunRecord, ident: Identity, mode: str, uri: str) -> None:
    from mlrepo.run.sweep import record_cached

    record_cached(record.run_id)  # a sweep's card lists the cached jobs too
    shown = "  ".join(f"{k}={v:.4f}" for k, v in sorted(record.metrics.items()))
    verb = (
        "is still RUNNING"
        if record.status == "RUNNING"
        else f"{record.status} {runs.age(record.start_time)} ago"
    )
    print(
        f"Cached: run {record.run_id} {verb} with the same run.uid {ident.short} (mode={mode}); "
        "nothing trained."
    )
    print(f"  metrics: {shown or '(none)'}")
    print(f"  view it: {_ui(uri)} (experiment {record.experiment})")
    print("  train again anyway with mode=force")


def _claim(cfg: DictConfig, ident: Identity, mode: str, uri: str) -> tuple[heartbeat.Claim | None, bool]:
    """Take the lock on the run's uid, waiting for a live identical run (not with mode=force).

    Returns:
        `(claim, reported)`: the lock this run holds while it trains (None: none taken), and
        whether the run the wait ended on was reported instead (nothing to train).
    """
    if mode == "force":
        return None, False

    def recheck(waited: bool) -> runs.RunRecord | None:
        found = runs.reader(uri).search([str(cfg.pipeline.name)], uid=ident.uid, limit=20)
        if waited:  # the run we waited for let go of the lock: if it is still RUNNING, it died
            dead = [r for r in found if r.status == "RUNNING" and heartbeat.last_beat(r) is not None]
            heartbeat.reap(uri, dead, "lost (its process ended while the run was RUNNING)")
            for record in dead:
                print(f"Run {record.run_id} died while RUNNING: this run takes over.", file=sys.stderr)
        hit = previous_run(mode, found)
        return hit if hit is not None and hit.status != "RUNNING" else None

    folder = heartbeat.lock_dir(uri, OmegaConf.select(cfg, "paths.cache", default=None))
    wait = bool(OmegaConf.select(cfg, "wait", default=True))
    claim, hit = heartbeat.claim(folder, ident.uid, recheck, wait=wait)
    if hit is not None:
        _report_previous(hit, ident, mode, uri)
        return None, True
    return claim, False


def _log_config(cfg: DictConfig, overrides: Sequence[str]) -> None:
    import mlflow
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    from mlrepo.run.config import flatten

    params = {
        key: value if len(value) <= MAX_PARAM_VAL_LENGTH else value[: MAX_PARAM_VAL_LENGTH - 3] + "..."
        for key, value in flatten(cfg, skip=("hydra", "paths")).items()
    }
    mlflow.log_params(params)
    mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config/config.yaml")
    mlflow.log_text(OmegaConf.to_yaml(OmegaConf.create(list(overrides))), "config/overrides.yaml")


def run(cfg: DictConfig, overrides: Sequence[str] = ()) -> int:
    """Run the pipeline `cfg` names as one MLflow run and return the exit code.

    While it trains, the run keeps a heartbeat and holds the lock on its `run.uid`
    (`mlrepo.run.heartbeat`): an identical run started meanwhile waits for it instead of training.

    Args:
        cfg: the composed config (pipeline + super-branch + command line).
        overrides: the command-line overrides, saved with the run.

    Returns:
        0 when the run FINISHED, 1 when `train` failed, 2 when it stopped on a user mistake
        (the run is FAILED, the message says what to fix), 130 when interrupted.

    Raises:
        UserError: the tree is dirty on a branch that forbids it, or the pipeline is missing.
    """
    with contextlib.ExitStack() as cleanup:  # the heartbeat and the run.uid lock end with the run
        code = _run(cfg, overrides, cleanup)
    from mlrepo.run import preempt

    if preempt.requested:  # SIGTERM with launcher.requeue=true: the run is KILLED, the lock released
        preempt.requeue()
    return code


def _run(cfg: DictConfig, overrides: Sequence[str], cleanup: contextlib.ExitStack) -> int:
    logging.basicConfig(level=str(cfg.logging.level).upper(), format="%(levelname)s %(name)s: %(message)s")
    git = gitinfo.describe(ROOT)
    if git.dirty and not cfg.branch.allow_dirty:
        shown = ", ".join(git.changed[:5]) + (" ..." if len(git.changed) > 5 else "")
        raise UserError(
            f"The {cfg.branch.name} super-branch refuses a dirty git tree ({shown}). "
            "Commit or stash your changes, then run again; or run on branch=development."
        )
    mode = str(OmegaConf.select(cfg, "mode", default="cached"))
    if mode not in MODES:
        raise UserError(f"Unknown mode '{mode}'. Use mode=cached (the default), mode=force or mode=retry.")
    ident = identity_of(cfg, overrides)  # a study's target (study.run_id) resolved: part of run.uid
    mode = tasks.mode_for(cfg, mode, ident.uid)  # a dataset run whose table is gone builds it again
    uri = tracking.resolve_uri(str(cfg.tracking.uri))
    tracking.check_access(uri)  # a server that refuses our login: one line, before anything runs
    # Decided before the pipeline (and its model library) is imported: a cached hit stays quick.
    if mode != "force":
        found = runs.reader(uri).search([str(cfg.pipeline.name)], uid=ident.uid, limit=20)
        found = heartbeat.reap_lost(uri, found)  # a run killed without a word ends FAILED first
        hit = previous_run(mode, found)
        if hit is not None:
            _report_previous(hit, ident, mode, uri)
            return 0
    claim, reported = _claim(cfg, ident, mode, uri)
    if reported:
        return 0
    if claim is not None:
        cleanup.callback(claim.release)
    if OmegaConf.select(cfg, "pipeline.notebook", default=None):  # a study that is a notebook
        from mlrepo.run import notebook

        module = notebook.load(cfg)
    else:
        module = load_pipeline(str(cfg.pipeline.code))
    from mlrepo.track import flavors

    flavors.prepare(_user_imports(ident))  # before MLflow: see flavors.prepare

    import mlflow

    uri = tracking.connect(uri)
    tracking.reset()
    started = time.monotonic()
    interval = float(OmegaConf.select(cfg, "heartbeat.interval_s", default=30) or 30)
    tags = {**run_tags(cfg, git, ident), **heartbeat.first_beat(interval)}  # alive from its first instant
    exp_id, active = tracking.start_run(str(cfg.pipeline.name), uri, tags)
    run_id = active.info.run_id
    if claim is not None:
        claim.describe(run_id)
    cleanup.callback(heartbeat.start(uri, run_id, interval, tagged=True).stop)
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        _log_config(cfg, overrides)
        from mlrepo.run import steps

        tag_step = lambda outcome: mlflow.set_tag(f"step.{outcome.name}", "hit" if outcome.hit else "miss")  # noqa: E731
        with steps.session_for(cfg, on_outcome=tag_step) as cached_steps:
            try:
                model = module.train(cfg)
            finally:
                if cached_steps.outcomes:
                    print(cached_steps.summary())
        tasks.handle(cfg, model, run_id)  # a model, a table or a report, as the task says; then the card
    except (KeyboardInterrupt, Interrupted) as exc:
        from mlrepo.run import preempt  # SIGTERM on SLURM: requeued when launcher.requeue=true

        preempt.requested = isinstance(exc, Interrupted) and preempt.wanted(cfg)
        mlflow.set_tag("mlrepo.error", "interrupted")
        if preempt.requested:
            mlflow.set_tag("mlrepo.requeued", "true")
        mlflow.end_run(status="KILLED")
        print(f"\nInterrupted: run {run_id} ended KILLED.", file=sys.stderr)
        return EXIT_KILLED
    except UserError as exc:  # a mistake the message explains (a bad table name...): no traceback shown
        mlflow.log_text(traceback.format_exc(), "error/traceback.txt")
        mlflow.set_tag("mlrepo.error", f"{exc}"[:5000])
        tasks.log_failed_card(run_id)
        mlflow.end_run(status="FAILED")
        print(f"error: {exc}\nRun {run_id} ended FAILED.", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        mlflow.log_text(traceback.format_exc(), "error/traceback.txt")
        mlflow.set_tag("mlrepo.error", f"{type(exc).__name__}: {exc}"[:5000])
        tasks.log_failed_card(run_id)
        mlflow.end_run(status="FAILED")
        from mlrepo.run import failure

        if str(cfg.logging.level).upper() == "DEBUG":
            traceback.print_exc()
        print(failure.paragraph(exc, run_id, str(cfg.pipeline.name)), file=sys.stderr)  # not 55 KB of data
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    try:
        mlflow.end_run(status="FINISHED")
    except Exception as exc:  # MLflow's client already retried for minutes: the server is gone
        print(
            f"error: the tracking server {uri} was unreachable when run {run_id} ended "
            f"({type(exc).__name__}); it may still show RUNNING there. Train it again when the "
            "server is back (mode=retry).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    _report(uri, exp_id, run_id, time.monotonic() - started)
    return 0


def _user_imports(ident: Identity) -> set[str]:
    """The top-level modules the pipeline's own files import (its closure outside `mlrepo/`), statically."""
    names: set[str] = set()
    for relative in ident.files:
        if not relative.startswith("mlrepo/") and relative.endswith(".py"):
            names.update(m.split(".")[0] for m in identity._imports(ROOT / relative, ROOT))
    return names


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _report(uri: str, exp_id: str, run_id: str, seconds: float) -> None:
    from mlflow.tracking import MlflowClient

    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    shown = "  ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
    print(f"Run {run_id} FINISHED in {seconds:.1f} s (experiment {exp_id})")
    print(f"  metrics: {shown or '(none)'}")
    print(f"  view it: {_ui(uri)}/#/experiments/{exp_id}/runs/{run_id}")
