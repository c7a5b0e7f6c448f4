"""The `launcher=local` Hydra launcher: sweep jobs in forked, pre-warmed worker processes.

Hydra's joblib launcher always uses loky, whose workers are fresh interpreters: each pays the
imports (MLflow, scikit-learn, the pipeline: 4-7 s) while an Iris job trains and logs in ~1.5 s,
so on 2 cores a parallel sweep was no faster than a sequential one. `LocalLauncher` imports
what the jobs need once in the launching process, then forks one child per job (at most
`n_jobs` at a time): children start warm. Rules:

- **Fork only when it is safe.** TensorFlow (and torch, jax) is not fork-safe once imported:
  when a swept pipeline's source imports one of them (found statically, as `mlrepo.run.identity`
  finds the sources), or the launching process already imported one, or the config says
  `hydra.launcher.backend: loky`, the jobs run in spawned loky workers (Hydra's joblib
  launcher) as before.
- **No database connection crosses a fork.** The launching process closes MLflow's pooled
  connections before forking, and each child drops the pool it inherited, so every child opens
  its own SQLite/PostgreSQL connections.
- Each job is its own process (a crash kills one job, not a worker shared by several); a child
  that dies without reporting is recorded as a failed job (exit code 128 + signal), and the
  sweep goes on. Ctrl-C: children end their runs KILLED, the sweep ends KILLED.

Hydra instantiates launchers only from the `hydra_plugins` namespace: `register()` (called by
`mlrepo.run.runner.launch` for a multirun) registers the class under `PLUGIN_NAME`, the `_target_`
that `conf/launcher/local.yaml` names.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import pickle
import signal
import sys
import time
import types
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import OmegaConf

from mlrepo import ROOT

#: The name the launcher is registered under with Hydra (`hydra.launcher._target_`).
PLUGIN_NAME = "hydra_plugins.mlrepo_local_launcher.LocalLauncher"
#: Libraries that are not fork-safe once imported: a pipeline importing one runs spawned.
FORK_UNSAFE = ("tensorflow", "keras", "torch", "jax")
#: How long children get to end their runs after Ctrl-C before they are signalled (they
#: usually got the terminal's SIGINT themselves), then terminated.
GRACE_S = 2.0
#: What every job imports lazily while it logs a run (measured with `python -X importtime`).
WARM = ("mlflow", "mlflow.tracking", "mlflow.pyfunc", "mlflow.pyfunc.loaders", "mlrepo.track.flavors", "git",
        "matplotlib.pyplot", "hydra_plugins.hydra_joblib_launcher._core")  # fmt: skip
#: Process-wide caches that logging a model fills on first use: MLflow maps installed modules
#: to packages (for the model's requirements) by reading every distribution's metadata, 3-4 s.
WARM_CALLS = (("mlflow.utils.requirements_utils", "_init_modules_to_packages_map"),)
#: What an MLflow flavour imports lazily when it saves a model of that library.
FLAVOR_EXTRAS = {"sklearn": ("skops.io",)}
STOP_S = 30.0

log = logging.getLogger("mlrepo.run.launcher")


def register() -> None:
    """Make `PLUGIN_NAME` known to Hydra (idempotent); call before Hydra starts a multirun."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()
    if PLUGIN_NAME in plugins.class_name_to_class:
        return
    # Hydra accepts plugin classes only from modules under `hydra_plugins.*`, and imports the
    # `_target_` by name: give it an alias module holding a same-behaviour subclass, instead of
    # a top-level `hydra_plugins/` folder in the repository.
    module_name, _, name = PLUGIN_NAME.rpartition(".")
    module = types.ModuleType(module_name, "Alias of mlrepo.run.launcher for Hydra's plugin lookup.")
    setattr(module, name, type(name, (LocalLauncher,), {"__module__": module_name}))
    sys.modules[module_name] = module
    plugins.register(getattr(module, name))


# --- which pipelines may fork, and what they import ---------------------------------------


def pipeline_codes(job_overrides: Iterable[Sequence[str]], default: str, conf_dir: Path) -> list[str]:
    """The `pipeline.code` of every pipeline a sweep's jobs run, in order, without duplicates.

    Args:
        job_overrides: each job's overrides (`pipeline=<name>` among them, or not).
        default: the code of the pipeline in the launching config.
        conf_dir: the config tree (`conf/`), where `pipeline/<name>.yaml` says its code.
    """
    codes: list[str] = []
    for overrides in job_overrides:
        code = default
        for override in overrides:
            key, _, value = override.lstrip("+~").partition("=")
            if key == "pipeline":
                loaded = OmegaConf.load(conf_dir / "pipeline" / f"{value}.yaml")
                notebook = OmegaConf.select(loaded, "pipeline.notebook")  # a notebook study: no module
                code = "" if notebook else str(OmegaConf.select(loaded, "pipeline.code", default=value))
            elif key == "pipeline.code":
                code = value
        if code and code not in codes:
            codes.append(code)
    return codes


def third_party_imports(code: str, root: Path = ROOT) -> set[str]:
    """The top-level names of the non-project modules `train/<code>/pipeline.py` imports, transitively."""
    from mlrepo.run.identity import PROJECT_PACKAGES, _imports, source_files

    names = set()
    for path in source_files(code, root):
        names.update(module.split(".")[0] for module in _imports(path, root))
    return {name for name in names if name and name not in PROJECT_PACKAGES}


def fork_blockers(codes: Sequence[str], root: Path = ROOT) -> list[str]:
    """Why the jobs of these pipelines must not be forked (an empty list: forking is safe)."""
    reasons = [f"{name} is already imported" for name in FORK_UNSAFE if name in sys.modules]
    for code in codes:
        unsafe = sorted(third_party_imports(code, root).intersection(FORK_UNSAFE))
        if unsafe:
            reasons.append(f"train/{code} imports {', '.join(unsafe)}")
    return reasons


_NOTING: list[list[bool]] = []
"""The list the innermost `_interrupts_seen` block notes Ctrl-C in (one per outer block)."""


@contextlib.contextmanager
def _interrupts_seen() -> Iterator[list[bool]]:
    """Note each Ctrl-C (still raising KeyboardInterrupt, as Python's default handler does) while
    the block runs; a handler that is not the default (e.g. ignored) is left alone. Inside an
    outer block, the outer block's list is the one noted in.

    Why note it: a KeyboardInterrupt raised while Python runs a garbage-collection callback
    (SQLAlchemy's weakref callbacks, a `__del__`) is printed as "Exception ignored in ..." and
    swallowed; the sweep then went on to FINISHED with exit 0 (CI caught it: a Ctrl-C during the
    warm-up). Whoever reads the list raises the interrupt again at a safe point.
    """
    if _NOTING:
        yield _NOTING[-1]
        return
    seen: list[bool] = []

    def note(signum: int, frame: Any) -> None:
        seen.append(True)
        raise KeyboardInterrupt

    default = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous = signal.signal(signal.SIGINT, note) if default else None
    _NOTING.append(seen)
    try:
        yield seen
    finally:
        _NOTING.pop()
        if default:
            signal.signal(signal.SIGINT, previous)


def warm_up(codes: Sequence[str], root: Path = ROOT) -> list[str]:
    """Import, in this process, what the jobs of these pipelines will need; return what was imported.

    The pipeline modules, every third-party module their sources name (also those imported
    inside functions), MLflow and what logging a run imports lazily, and the MLflow flavour of
    each library the pipeline uses with what it saves models with (`mlflow.sklearn`, `skops.io`).
    """
    from mlrepo.run import runner
    from mlrepo.run.identity import PROJECT_PACKAGES, _imports, source_files

    wanted = list(WARM)
    for code in codes:
        runner.load_pipeline(code)
        for path in source_files(code, root):
            wanted += sorted(m for m in _imports(path, root) if m and m.split(".")[0] not in PROJECT_PACKAGES)
        for name in sorted(third_party_imports(code, root)):
            wanted += [f"mlflow.{name}", *FLAVOR_EXTRAS.get(name, ())]
    imported = []
    with _interrupts_seen() as interrupted:
        try:
            for name in wanted:
                if name not in sys.modules and _is_module(name):
                    importlib.import_module(name)
                    imported.append(name)
        except ImportError:
            # Ctrl-C inside a C extension's initialisation surfaces as "ImportError:
            # initialization failed": it is still the user's interrupt.
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        for module, function in WARM_CALLS:
            warm = getattr(importlib.import_module(module), function, None)
            if warm is None:  # MLflow renamed its cache: jobs still work, each builds its own
                log.warning("%s.%s is gone: forked jobs will not share its cache.", module, function)
            else:
                warm()
                imported.append(f"{module}.{function}()")
        if interrupted:  # a Ctrl-C that a garbage-collection callback swallowed
            raise KeyboardInterrupt
    return imported


def _is_module(name: str) -> bool:
    # `from pkg import name` names a function as often as a module: only modules are imported.
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent that is not a package, or not installed
        return False


def _sqlalchemy_engines() -> list[Any]:
    engines = []
    for module in ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store"):
        store = sys.modules.get(module)
        if store is not None:
            engines.extend(store.SqlAlchemyStore._engine_map.values())
    return engines


def close_connections() -> None:
    """Close MLflow's pooled database connections in this process (they reopen on next use)."""
    for engine in _sqlalchemy_engines():
        engine.dispose()


def _after_fork() -> None:
    # A job handles Ctrl-C as any run does (Python's own handler), not with the launcher's note.
    _NOTING.clear()
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The inherited pools hold the parent's connections (if any): drop them without closing
    # them, as SQLAlchemy prescribes for a forked child, so this child opens its own.
    for engine in _sqlalchemy_engines():
        engine.dispose(close=False)


# --- the launcher ---------------------------------------------------------------------------


def _exit_code(process: Any) -> int:
    code = process.exitcode
    return 128 - code if code is not None and code < 0 else (code if code is not None else 1)


def _run_child(conn: Any, idx: int, overrides: Sequence[str], launcher: LocalLauncher) -> None:
    from hydra.core.singleton import Singleton
    from hydra_plugins.hydra_joblib_launcher._core import execute_job

    _after_fork()
    ret = execute_job(idx, overrides, launcher.hydra_context, launcher.config, launcher.task_function,
                      Singleton.get_state())  # fmt: skip
    # Only what the sweeper reads goes back: the composed configs hold classes that do not pickle.
    value = ret._return_value
    try:
        pickle.dumps(value)
    except Exception:  # an unpicklable return value or exception: its text is what matters
        value = RuntimeError(repr(value)) if ret.status == JobStatus.FAILED else repr(value)
    conn.send((ret.status, value, ret.working_dir, ret.task_name))
    conn.close()


class LocalLauncher(JoblibLauncher):
    """Run sweep jobs in forked, pre-warmed processes; spawned loky workers when forking is unsafe.

    Takes the joblib launcher's config (`conf/launcher/local.yaml`); it reads `n_jobs` (-1: one
    per core) and `backend` (`null`: fork when safe; `loky`: always spawn).
    """

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Launch the jobs, at most `n_jobs` at a time, and return their results in job order."""
        from hydra.core.utils import configure_log, setup_globals

        from mlrepo.run.config import CONF_DIR

        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        default = str(OmegaConf.select(self.config, "pipeline.code", default="") or "")  # "": a notebook
        codes = pipeline_codes(job_overrides, default, CONF_DIR)
        forced = str(self.joblib.get("backend") or "")
        blockers = [f"hydra.launcher.backend is {forced}"] if forced else fork_blockers(codes)
        if blockers:
            log.info("Sweep jobs run in spawned workers (joblib/loky): %s.", "; ".join(blockers))
            return super().launch(job_overrides, initial_job_idx)

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with _interrupts_seen():  # one note of Ctrl-C from the warm-up to the last job
            return self._fork(job_overrides, initial_job_idx, codes, started)

    def _fork(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int, codes: list[str],
              started: float) -> Sequence[JobReturn]:  # fmt: skip
        from hydra.core.utils import filter_overrides

        imported = warm_up(codes)
        close_connections()
        n_jobs = int(self.joblib.get("n_jobs") or -1)
        workers = max(1, min(len(job_overrides), (os.cpu_count() or 1) if n_jobs < 1 else n_jobs))
        warmed = ", ".join(imported) or "nothing"
        log.info("Forking %d jobs, %d at a time, after warming up %s in %.1f s",
                 len(job_overrides), workers, warmed, time.perf_counter() - started)  # fmt: skip
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        jobs = [(initial_job_idx + idx, list(overrides)) for idx, overrides in enumerate(job_overrides)]
        returns = _Pool(self, workers).run(jobs)
        return [returns[idx] for idx, _ in jobs]


class _Pool:
    """At most `workers` forked children at a time, one per job; collects their `JobReturn`s."""

    def __init__(self, launcher: LocalLauncher, workers: int) -> None:
        import multiprocessing

        self.context = multiprocessing.get_context("fork")
        self.launcher, self.workers = launcher, workers
        self.running: dict[int, tuple[Any, Any, list[str]]] = {}  # job -> (process, pipe, overrides)
        self.returns: dict[int, JobReturn] = {}

    def run(self, jobs: Sequence[tuple[int, list[str]]]) -> dict[int, JobReturn]:
        from multiprocessing.connection import wait

        pending = deque(jobs)
        try:
            with _interrupts_seen() as interrupted:
                while pending or self.running:
                    if interrupted:  # a Ctrl-C that a garbage-collection callback swallowed
                        raise KeyboardInterrupt
                    while pending and len(self.running) < self.workers:
                        self._start(*pending.popleft())
                    ready = wait([pipe for _, pipe, _ in self.running.values()])
                    for idx in [i for i, (_, pipe, _) in self.running.items() if pipe in ready]:
                        self._collect(idx)
                if interrupted:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            self._stop()
            raise
        return self.returns

    def _start(self, idx: int, overrides: list[str]) -> None:
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_run_child, args=(send, idx, overrides, self.launcher),
                                       name=f"sweep-job-{idx}")  # fmt: skip
        process.start()
        send.close()  # the child holds the only write end: EOF on the pipe means it ended
        self.running[idx] = (process, receive, overrides)

    def _collect(self, idx: int) -> None:
        process, pipe, overrides = self.running.pop(idx)
        try:
            status, value, working_dir, task_name = pipe.recv()
        except EOFError:
            status = None
        pipe.close()
        process.join()
        if status is None:
            # The child died before reporting (killed, out of memory, a crash in C code): count
            # the job as failed the way jobs report failures, unless it recorded its own code.
            from mlrepo.run import sweep

            code = _exit_code(process) or 1
            print(
                f"error: sweep job {idx} ({' '.join(overrides)}) died with exit code {code}", file=sys.stderr
            )
            folder = os.environ.get(sweep.ENV_DIR)
            if folder and idx not in sweep.results(Path(folder)):
                sweep.record_job(idx, code)
            status, value, working_dir, task_name = JobStatus.COMPLETED, None, None, None
        self.returns[idx] = JobReturn(overrides=overrides, status=status, _return_value=value,
                                      working_dir=working_dir, task_name=task_name)  # fmt: skip

    def _stop(self) -> None:
        """After Ctrl-C: let the children end their runs KILLED, signalling those that did not hear it."""
        processes = [process for process, _, _ in self.running.values()]
        deadline = time.monotonic() + GRACE_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():  # SIGINT went to the launcher only (kill -INT), not the group
                os.kill(process.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)
        for _, pipe, _ in self.running.values():
            pipe.close()
        self.running.clear()
