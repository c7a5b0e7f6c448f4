"""The one identity function: what the runner and every gate call to know a run's `run.uid`.

`mlrepo.run.identity` hashes a config; this module first applies what the pipeline's task adds
to it (a study's target, resolved against the tracking store). It lives apart from
`identity` because pipelines import `identity` (through the step cache), and what this module
imports (the task machinery) must not enter their code digest.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mlrepo import ROOT
from mlrepo.run.identity import Identity, compute


def of_run(cfg: DictConfig, defaults: DictConfig, root: Path = ROOT, uri: str | None = None) -> Identity:
    """The identity of a run of `cfg`, with the task's inputs, as the runner and the gates compute it.

    It first applies what the pipeline's task adds (`mlrepo.run.tasks.prepare`: a study's
    `study.of` resolved against the tracking store into `study.run_id`; the dataset version
    `data.version` of `dataset_`/`train_` pipelines is part of the config already), then hashes
    the result with `mlrepo.run.identity.compute`. Resolving reads the MLflow store only: a gate
    that calls this on a pull request's files never imports the head's code.

    Args:
        cfg: the composed config of the run (changed in place: a study's `study.run_id` is set).
        defaults: the same pipeline composed without command-line values.
        root: the repository root (a gate's scratch worktree).
        uri: the tracking URI a study's target is resolved in; default: the config's
            (`tracking.uri`; `MLFLOW_TRACKING_URI` wins), a relative path under `root`.

    Returns:
        The identity, with its uid.

    Raises:
        UserError: a study whose target names no run in the store.
    """
    from mlrepo.run import tasks

    if tasks.task_of(str(cfg.pipeline.name)) in tasks.STUDY_TASKS:
        if uri is None:
            from mlrepo.track.tracking import resolve_uri

            uri = resolve_uri(str(OmegaConf.select(cfg, "tracking.uri", default="") or ""), root)
        tasks.prepare(cfg, uri)
    return compute(cfg, defaults, root)
