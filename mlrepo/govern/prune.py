"""Delete the MLflow runs of a branch whose pull request was closed unmerged (`python -m mlrepo prune`)."""

from __future__ import annotations

from mlrepo.errors import UserError


def branch_runs(uri: str, branch: str) -> list:
    """Every run, in every experiment of the store at `uri`, whose tag `git.branch` is `branch`."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiments:
        return []
    quoted = branch.replace("'", "\\'")
    return list(
        client.search_runs(
            experiments,
            filter_string=f"tags.`git.branch` = '{quoted}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=50000,
        )
    )


def prune(uri: str, branch: str, dry_run: bool = False) -> list[str]:
    """Delete (MLflow's soft delete) the runs of `branch`, and no others.

    Args:
        uri: the tracking URI.
        branch: the git branch whose runs go.
        dry_run: list them without deleting.

    Returns:
        The ids of the runs deleted (or that would be).

    Raises:
        UserError: the branch name is empty or a protected branch (main, master).
    """
    if not branch.strip():
        raise UserError("prune needs a branch name: `python -m mlrepo prune --branch <branch>`.")
    if branch in ("main", "master"):
        raise UserError(
            f"Refusing to prune the runs of `{branch}`: only a closed, unmerged branch's runs go."
        )
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    ids = [run.info.run_id for run in branch_runs(uri, branch)]
    if not dry_run:
        for run_id in ids:
            client.delete_run(run_id)
    return ids
