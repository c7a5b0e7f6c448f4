"""Preemption on SLURM: a job that gets SIGTERM ends its run KILLED at once, and with
`launcher.requeue=true` is put back in the queue through submitit, to resume through the step cache.

    python -m train -m pipeline=train_iris model.C=0.1,1 launcher=slurm launcher.requeue=true

What happens on SIGTERM (`scancel --signal=TERM`, or SLURM preempting the job, which sends
SIGTERM then SIGKILL after its grace time): the runner's handler raises `Interrupted` in the
main thread, the run ends KILLED with its end time (not LOST after a heartbeat timeout), its
heartbeat and `run.uid` lock are released, and the step being computed leaves no cache entry
(entries are written in a temporary folder renamed into place, `mlrepo.run.steps.store`); those
before it are complete. With `launcher.requeue=true`, the runner then hands the job to
submitit's own preemption handler (the one it binds to the SIGUSR2 that SLURM sends before a
time limit): it pickles the job again and `scontrol requeue`s it. The requeued job runs the
same config: in the default `cached` mode the KILLED run is not reused, a new run starts, and
every step that finished before the signal is a cache hit, so it resumes at the step it was in.

Decisions: requeue is off by default (a `scancel --signal=TERM` is often meant to stop a job);
outside a submitit job (a local run, `launcher=local`) the flag is ignored with a warning; a
requeued run keeps the tag `mlrepo.requeued=true` so that a listing tells a preempted run from
one cancelled for good.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("mlrepo.run.preempt")

requested = False
"""Set by the runner when a run ended KILLED on SIGTERM and its job is to be requeued."""


def wanted(cfg: DictConfig) -> bool:
    """Whether the config asks for requeue on preemption (`launcher.requeue=true`)."""
    return bool(OmegaConf.select(cfg, "launcher.requeue", default=False))


def submitit_handler() -> Any | None:
    """Submitit's preemption handler of this job (bound to SIGUSR2), or None outside a submitit job."""
    handler = signal.getsignal(signal.SIGUSR2)
    owner = getattr(handler, "__self__", None)
    if owner is None or type(owner).__module__ != "submitit.core.job_environment":
        return None
    return handler


def requeue() -> None:
    """Requeue this job through submitit; does not return inside a SLURM job (it exits, as
    submitit's handler does after `scontrol requeue`). Outside one it only warns."""
    global requested
    requested = False
    handler = submitit_handler()
    if handler is None or "SLURM_JOB_ID" not in os.environ:
        log.warning("launcher.requeue=true: not a submitit job on SLURM, so nothing to requeue")
        return
    print(f"Preempted: requeuing SLURM job {os.environ['SLURM_JOB_ID']} through submitit.", flush=True)
    handler(signal.SIGUSR2, None)
