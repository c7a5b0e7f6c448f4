"""`python -m mlrepo promote RUN_ID --alias champion`: point a Model Registry alias at a checked run.

The run must be FINISHED, from the production super-branch, from a clean commit, and hold a
registered model version. Its main metric (the pipeline's `pipeline.metric`, better as its goal
says: `mlrepo.run.metric`) must not be worse than the current alias holder's; `--force --reason
"..."` promotes it anyway and records who and why as tags of the model version. Every
promotion records who and when, and appends an entry to the registry's audit trail
(`mlrepo/server/audit.py`, `promote --history`).
"""

from __future__ import annotations

import getpass
import os
import time
from typing import Any

from mlrepo.errors import UserError


def who(uri: str) -> str:
    """The user promoting: the server login when there is one, else the local account."""
    from mlrepo.server.auth import credentials

    pair = credentials(uri)
    return pair[0] if pair else os.environ.get("USER") or getpass.getuser()


def check_run(run: Any) -> None:
    """Refuse a run that is not FINISHED, not from production, or not from a clean commit.

    Raises:
        UserError: naming every check the run fails.
    """
    tags = run.data.tags
    problems = []
    if run.info.status != "FINISHED":
        problems.append(f"it is {run.info.status}, not FINISHED")
    if tags.get("branch") != "production":
        problems.append(f"it ran on the {tags.get('branch', 'unknown')} super-branch, not production")
    if tags.get("git.dirty") != "false" or not tags.get("git.commit"):
        problems.append("it does not come from a clean git commit")
    if problems:
        raise UserError(f"Run {run.info.run_id} cannot be promoted: {'; '.join(problems)}.")


def promote(uri: str, run_id: str, alias: str = "champion", force: bool = False, reason: str = "") -> str:
    """Set `alias` on the model version registered from `run_id`, after the checks.

    Args:
        uri: the tracking server.
        run_id: the run to promote.
        alias: the registry alias (`champion`).
        force: promote even when its metric is worse than the current holder's.
        reason: why (required with `force`; recorded as the tag `promotion.reason`).

    Returns:
        A one-line report: model, version, alias, metric, the version it replaced.

    Raises:
        UserError: a failed check (exit 2), or the server refuses the login or the write.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mlrepo.server.auth import access_error

    client = MlflowClient(uri)
    try:
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            if access_error(uri, exc) is not None:
                raise
            raise UserError(f"There is no run '{run_id}' on {uri}.") from None
        check_run(run)
        versions = client.search_model_versions(f"run_id = '{run_id}'")
        if not versions:
            raise UserError(
                f"Run {run_id} has no registered model version: production runs register theirs "
                "(branch.register_model); train it on branch=production."
            )
        version = max(versions, key=lambda v: int(v.version))
        from mlrepo.run.metric import MAXIMIZE, better, of_run

        main = of_run(run.data.params, run.data.tags)
        metric, goal = (main.name, main.goal) if main else ("", MAXIMIZE)
        value = run.data.metrics.get(metric)
        tags = {"promotion.by": who(uri), "promotion.at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "promotion.alias": alias}  # fmt: skip
        replaced = ""
        checks = ["status FINISHED", "branch production", f"clean commit {run.data.tags['git.commit'][:12]}",
                  f"registered as version {version.version}"]  # fmt: skip
        try:
            current = client.get_model_version_by_alias(version.name, alias)
        except MlflowException:
            current = None
        if current is not None and current.version != version.version:
            replaced = f", replacing version {current.version}"
            held = client.get_run(current.run_id).data.metrics.get(metric) if current.run_id else None
            worse = held is not None and (value is None or better(held, value, goal))
            checks.append(f"{metric}={value} against version {current.version}'s {held}: "
                          + ("worse, forced with a reason" if worse else "not worse"))  # fmt: skip
            if worse and not force:
                raise UserError(
                    f"Run {run_id}'s {metric}={value} is worse than {alias}'s (version {current.version}: "
                    f'{metric}={held}); nothing changed. Promote it anyway with --force --reason "why".'
                )
            if worse:
                if not reason.strip():
                    raise UserError('--force needs --reason "why": it is recorded with the promotion.')
                tags.update({"promotion.forced": "true", "promotion.reason": reason[:5000],
                             "promotion.replaced": str(current.version)})  # fmt: skip
        client.set_registered_model_alias(version.name, alias, version.version)
        for key, text in tags.items():
            client.set_model_version_tag(version.name, version.version, key, text)
        from mlrepo.server import audit  # the registry's audit trail (promote --history)

        audit.record_promotion(client, version, alias, current.version if current else None, run,
                               tags["promotion.by"], checks, reason, "promotion.forced" in tags)  # fmt: skip
    except MlflowException as exc:
        error = access_error(uri, exc)
        if error is None:
            raise
        raise error from None
    shown = f"{metric}={value:.4f}" if value is not None else f"{metric}=?"
    forced = " (forced)" if "promotion.forced" in tags else ""
    target = f"{version.name}@{alias} -> version {version.version}"
    return f"promote: {target} (run {run_id}, {shown}){replaced}{forced}"
