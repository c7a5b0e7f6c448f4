"""Pull-request review gates (`python -m mlrepo pr-check --base REF`): what a PR must satisfy to merge.

1. The checker passes on the head tree; pre-commit's hooks pass on the changed files.
2. Every model the PR adds or changes has a FINISHED MLflow run whose tag `git.commit` is the
   head commit, logged by a pipeline whose config names that model (`pipeline.model`), from a
   clean tree (`git.dirty` false).
3. Only a director (conf/governance.yaml) changes Pipfile / Pipfile.lock, and the lock matches.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlrepo.checks.base import Repo, Rule, Violation
from mlrepo.errors import UserError

PR_MODEL_RUN = Rule(
    "PR-MODEL-RUN",
    "a PR that adds or changes models/<Model>/ has a FINISHED MLflow run for its head commit by a pipeline "
    "using that model",
    "commit, then run `python -m train pipeline=<a pipeline whose pipeline.model is the model>` on a clean "
    "tree against the tracking server, and push",
)
PR_DIRECTOR = Rule(
    "PR-DIRECTOR",
    "only a director (conf/governance.yaml `directors`) changes Pipfile / Pipfile.lock",
    "drop the Pipfile changes from this PR and ask the development director for them",
)
PR_PRE_COMMIT = Rule(
    "PR-PRE-COMMIT",
    "pre-commit's hooks pass on the changed files",
    "run `pre-commit run --from-ref <base> --to-ref HEAD`, fix what it reports, commit",
)
RULES = (PR_MODEL_RUN, PR_DIRECTOR, PR_PRE_COMMIT)
"""The rules only a pull request has (the checker's rules apply too)."""


@dataclass(frozen=True)
class PullRequest:
    """What the gates need to know about a pull request.

    Attributes:
        root: the repository root, checked out at the head.
        base: the base ref.
        head: the head commit (full sha).
        author: who opened it (a GitHub handle, a git name or email).
        changed: the paths it adds, changes or deletes (relative to the root).
    """

    root: Path
    base: str
    head: str
    author: str
    changed: tuple[str, ...]


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UserError(
            f"`git {' '.join(args)}` failed in {root}: {done.stderr.strip()}. Is BASE a ref that "
            "exists here (fetch it with `git fetch origin <base>`)?"
        )
    return done.stdout.strip()


def describe(root: Path, base: str, head: str = "HEAD", author: str | None = None) -> PullRequest:
    """Describe the pull request from `base` to `head` in the repository at `root`.

    The author is `author`, else `PR_AUTHOR` in the environment, else the git author of the head.

    Raises:
        UserError: a ref does not exist.
    """
    sha = _git(root, "rev-parse", "--verify", f"{head}^{{commit}}")
    _git(root, "rev-parse", "--verify", f"{base}^{{commit}}")
    who = author or os.environ.get("PR_AUTHOR") or _git(root, "log", "-1", "--format=%an <%ae>", sha)
    changed = _git(root, "diff", "--name-only", f"{base}...{sha}").splitlines()
    return PullRequest(root=root, base=base, head=sha, author=who, changed=tuple(changed))


def changed_models(pr: PullRequest) -> list[str]:
    """The models the PR adds or changes (not those it only deletes)."""
    names = {p.split("/")[1] for p in pr.changed if p.startswith("models/") and p.count("/") >= 2}
    return sorted(n for n in names if (pr.root / "models" / n).is_dir() and not n.startswith((".", "_")))


def pipelines_using(repo: Repo, model: str) -> list[str]:
    """The pipelines whose config names `model` as `pipeline.model`."""
    from mlrepo.checks.pipelines import pipeline_configs

    found = []
    for path in pipeline_configs(repo):
        data = repo.yaml(path)
        section = data.get("pipeline") if isinstance(data, dict) else None
        if isinstance(section, dict) and section.get("model") == model:
            found.append(path.rsplit("/", 1)[1][: -len(".yaml")])
    return found


def configured_uri(pipeline: str) -> str:
    """The tracking URI a run of `pipeline` would use: `MLFLOW_TRACKING_URI` or the composed config's."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        from mlrepo.tracking import resolve_uri

        return resolve_uri(os.environ["MLFLOW_TRACKING_URI"])
    from mlrepo.config import compose
    from mlrepo.tracking import resolve_uri

    return resolve_uri(str(compose([f"pipeline={pipeline}"]).tracking.uri))


def check_model_runs(pr: PullRequest, repo: Repo, uri: str | None = None) -> list[Violation]:
    """The PR-MODEL-RUN violations: changed models without a run of their head commit."""
    found = []
    for model in changed_models(pr):
        where = f"models/{model}"
        pipelines = pipelines_using(repo, model)
        if not pipelines:
            found.append(
                Violation(
                    where,
                    1,
                    PR_MODEL_RUN.id,
                    "no pipeline config names this model (`pipeline.model`), so no run can vouch for it",
                )
            )
            continue
        store = uri or configured_uri(pipelines[0])
        if not _has_run(store, pipelines, pr.head):
            found.append(
                Violation(
                    where,
                    1,
                    PR_MODEL_RUN.id,
                    f"no FINISHED run from a clean tree with "
                    f"git.commit={pr.head[:12]} by {', '.join(pipelines)} in {store}",
                )
            )
    return found


def _has_run(uri: str, pipelines: list[str], commit: str) -> bool:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    if not experiments:
        return False
    # MLflow's filter has no IN for tags: filter the commit's runs by pipeline here.
    runs = client.search_runs(
        experiments,
        filter_string=f"tags.`git.commit` = '{commit}' AND attributes.status = 'FINISHED'",
        max_results=1000,
    )
    return any(
        run.data.tags.get("pipeline") in pipelines and run.data.tags.get("git.dirty") != "true"
        for run in runs
    )


def check_director(pr: PullRequest, repo: Repo) -> list[Violation]:
    """The PR-DIRECTOR violations: Pipfile changes by someone who is not a director."""
    from mlrepo.checks.environment import handles

    touched = [p for p in pr.changed if p in ("Pipfile", "Pipfile.lock")]
    if not touched:
        return []
    directors = handles(repo.settings["directors"])
    author = pr.author.lower().lstrip("@")
    name, _, email = author.partition(" <")
    candidates = {author, name.strip(), email.rstrip(">"), email.rstrip(">").split("@")[0]}
    if candidates & directors:
        return []
    return [
        Violation(
            p,
            1,
            PR_DIRECTOR.id,
            f"changed by {pr.author}, who is not a director ({', '.join(repo.settings['directors'])})",
        )
        for p in touched
    ]


def run_pre_commit(pr: PullRequest) -> list[Violation]:
    """Run pre-commit's hooks on the files changed between the base and the head; a violation if they fail."""
    if not (pr.root / ".pre-commit-config.yaml").is_file():
        return [Violation(".pre-commit-config.yaml", 1, PR_PRE_COMMIT.id, "missing")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "run",
            "--from-ref",
            pr.base,
            "--to-ref",
            pr.head,
            "--show-diff-on-failure",
            "--color",
            "never",
        ],
        cwd=pr.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return []
    failed = [
        line.split("...")[0].strip() for line in done.stdout.splitlines() if line.rstrip().endswith("Failed")
    ]
    print(done.stdout + done.stderr, file=sys.stderr)
    return [
        Violation(".pre-commit-config.yaml", 1, PR_PRE_COMMIT.id, f"hook failed: {hook}") for hook in failed
    ] or [Violation(".pre-commit-config.yaml", 1, PR_PRE_COMMIT.id, f"pre-commit exited {done.returncode}")]


def pr_check(
    root: Path,
    base: str,
    head: str = "HEAD",
    author: str | None = None,
    uri: str | None = None,
    pre_commit: bool = True,
) -> list[Violation]:
    """Every gate of a pull request from `base` to `head`.

    Args:
        root: the repository root, checked out at the head.
        base: the base ref (`origin/main`).
        head: the head ref.
        author: the PR's author (default: `PR_AUTHOR`, else the head's git author).
        uri: the tracking URI (default: `MLFLOW_TRACKING_URI`, else the configured store).
        pre_commit: also run pre-commit's hooks on the changed files.

    Returns:
        The violations, checker's and PR rules' together, sorted.
    """
    from mlrepo import checks

    pr = describe(root, base, head, author)
    repo = Repo.open(root)
    found = checks.run(root)
    if pre_commit:
        found += run_pre_commit(pr)
    found += check_director(pr, repo)
    found += check_model_runs(pr, repo, uri)
    return sorted(found)
