"""Pull-request review gates (`python -m mlrepo pr-check --base REF [--head REF]`): what a PR must satisfy.

The gates that judge a PR come from the base, never from the PR: run from a checkout of the base,
`pr-check` applies the running checker, the base's `conf/governance.yaml` and the base's
`.pre-commit-config.yaml` to the head's files, read from git as data (never imported or
executed). Without `--head` it judges the working tree's HEAD the same way. The working tree is
left as it was found: hooks run in a scratch worktree.

1. The checker passes on the head's files; pre-commit's hooks pass on the changed files; every
   file the PR's commits add obeys the data and size rules (even one a later commit deletes).
2. Every pipeline whose `run.uid` the PR changes (its config, code closure or dataset version)
   has a FINISHED run with the head's `run.uid` holding a loadable logged model (registered,
   where the super-branch registers). A cached run made before the commit counts.
3. The machinery and the rules (conf/governance.yaml `director_paths`) change only with a
   director: Pipfile / Pipfile.lock only by one; the lock locks the Pipfile.
4. The PR body fills the template's Description and Motivation with real words (`--body FILE`;
   skipped without it). The run id is not asked for: gate 2 finds the run and prints it as a note
   (run id, uid, metric); a body that names a run id other than the one found fails.
5. One piece per PR (a model, a dataset or a deploy), on a branch named after it: warnings
   (a failure where `one_piece_per_pr: strict`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlrepo.errors import UserError
from mlrepo.govern.checks.base import Repo, Rule, Violation

PR_MODEL_RUN = Rule(
    "PR-MODEL-RUN",
    "every pipeline whose run.uid the PR changes has a FINISHED run with the head's run.uid holding a "
    "loadable logged model (registered where the super-branch registers)",
    "run the command the message gives (`python -m train pipeline=<name>`) from a checkout of the head "
    "against the tracking server; a cached run of the same uid counts",
)
PR_DIRECTOR = Rule(
    "PR-DIRECTOR",
    "only a director changes Pipfile / Pipfile.lock; a change to the machinery or the rules "
    "(conf/governance.yaml `director_paths`) needs a director",
    "ask the development director (CODEOWNERS) to make or approve the change; drop it from this PR otherwise",
)
PR_PRE_COMMIT = Rule(
    "PR-PRE-COMMIT",
    "the base's pre-commit hooks pass on the files the PR changes",
    "run `pre-commit run --from-ref <base> --to-ref HEAD`, fix what the hook's output says, commit",
)
PR_ADDED_DATA = Rule(
    "PR-ADDED-DATA",
    "no commit of the PR adds data or a file over the size limit, even one a later commit deletes",
    "rewrite the branch without it (`git rebase -i <base>`, drop or amend the commit); DVC keeps data",
)
PR_BODY = Rule(
    "PR-BODY",
    "the PR body fills the template's Description and Motivation with real words; a run id it names "
    "is the run the model-run gate accepted",
    "edit the PR description: say what changes and why in your own words; name no run id, or the one "
    "pr-check's note gives",
)
PR_ONE_PIECE = Rule(
    "PR-ONE-PIECE",
    "a PR changes one piece (a model, a dataset or a deploy) from a branch named after it "
    "(model/<Model>[/v<n>], dataset/<name>[/v<n>], deploy/<Model>[/v<n>])",
    "split the PR, one branch per piece; name the branch after its piece",
)
RULES = (PR_MODEL_RUN, PR_DIRECTOR, PR_PRE_COMMIT, PR_ADDED_DATA, PR_BODY, PR_ONE_PIECE)
"""The rules only a pull request has (the checker's rules apply too)."""

_IDENTITY_TOPS = ("conf/", "train/", "models/", "datasets/", "mlrepo/", "dvc.lock", "dvc.yaml")
_TOOL_CONFIGS = ("pyproject.toml", "ruff.toml", ".ruff.toml", ".secrets.baseline")
"""Files that configure the hooks (ruff's rules, detect-secrets' baseline): the base's versions run."""
_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
_PIECES = {"models": "model", "datasets": "dataset", "deploy": "deploy"}
_TOPS = {kind: top for top, kind in _PIECES.items()}


@dataclass(frozen=True)
class PullRequest:
    """What the gates need to know about a pull request.

    Attributes:
        root: the repository (any checkout of it: the head's files are read from git).
        base: the base ref.
        head: the head commit (full sha).
        author: who opened it (`--author` or `PR_AUTHOR`), None when unknown (a local run).
        changed: the paths it adds, changes or deletes (relative to the root).
        head_name: the head's branch name, None when unknown (a detached head).
        added: `(commit, blob, path)` of every file version the PR's commits add or change.
    """

    root: Path
    base: str
    head: str
    author: str | None
    changed: tuple[str, ...]
    head_name: str | None = None
    added: tuple[tuple[str, str, str], ...] = ()


@dataclass
class Outcome:
    """What the gates found: failures (exit 1), warnings and notes (printed, exit 0).

    Attributes:
        failures: violations that block the merge.
        warnings: violations reported as warnings (PR-ONE-PIECE when not strict).
        notes: lines saying what was not checked here, and why (and which runs were accepted).
        accepted: the run ids and `run.uid`s of the runs the model-run gate accepted.
    """

    failures: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UserError(
            f"`git {' '.join(args)}` failed in {root}: {done.stderr.strip()}. Is it a ref that "
            "exists here (fetch it with `git fetch origin <ref>`)?"
        )
    return done.stdout.strip()


def describe(
    root: Path, base: str, head: str = "HEAD", author: str | None = None, head_name: str | None = None
) -> PullRequest:
    """Describe the pull request from `base` to `head` in the repository at `root`.

    The author is `author`, else `PR_AUTHOR` in the environment, else unknown: a local run does
    not trust `git config user.name`. The head's branch name is `head_name`, else `HEAD_REF` /
    `GITHUB_HEAD_REF`, else the branch `head` names (or the current one for `HEAD`).

    Raises:
        UserError: a ref does not exist.
    """
    sha = _git(root, "rev-parse", "--verify", f"{head}^{{commit}}")
    _git(root, "rev-parse", "--verify", f"{base}^{{commit}}")
    who = author or os.environ.get("PR_AUTHOR") or None
    changed = _git(root, "diff", "--name-only", "--no-renames", f"{base}...{sha}").splitlines()
    name = head_name or os.environ.get("HEAD_REF") or os.environ.get("GITHUB_HEAD_REF")
    if not name:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--abbrev-ref", head],
                              capture_output=True, text=True, check=False)  # fmt: skip
        name = done.stdout.strip() if done.returncode == 0 and done.stdout.strip() != "HEAD" else None
    raw = _git(root, "log", "--raw", "--no-renames", "--no-abbrev", "--diff-filter=AM", "--format=%x00%H",
               f"{base}..{sha}")  # fmt: skip
    added = []
    for chunk in raw.split("\0"):
        lines = chunk.strip().splitlines()
        for line in lines[1:]:
            meta, _, path = line.partition("\t")
            fields = meta.split()
            if len(fields) >= 4 and not fields[1].startswith("160"):
                added.append((lines[0], fields[3], path))
    return PullRequest(root=root, base=base, head=sha, author=who, changed=tuple(changed),
                       head_name=name, added=tuple(added))  # fmt: skip


# --- scratch worktrees: the head's files on disk without touching the working tree ---------------


@contextlib.contextmanager
def scratch(root: Path, commit: str) -> Iterator[Path]:
    """A temporary detached worktree of `commit` (removed afterwards); the working tree is untouched."""
    tmp = Path(tempfile.mkdtemp(prefix="pr-check-"))
    tree = tmp / "tree"
    try:
        _git(root, "worktree", "add", "--detach", "-q", str(tree), commit)
        yield tree
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", str(root), "worktree", "prune"], capture_output=True, check=False)


# --- the model-run gate: by identity ----------------------------------------------------------


def compose_at(tree: Path, overrides: list[str]):  # noqa: ANN201 (DictConfig, imported lazily)
    """Compose `tree`'s conf/config.yaml (read as YAML, nothing instantiated) as `python -m train` would."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    from mlrepo.run.config import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(tree / "conf"), version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
    except HydraException as exc:
        raise UserError(f"Cannot compose {' '.join(overrides)} at {tree.name}: {exc}") from None
    container = OmegaConf.to_container(cfg, resolve=False)
    container.pop("hydra", None)
    return OmegaConf.create(container)


@dataclass(frozen=True)
class PipelineRun:
    """What a gate knows of a run of one pipeline at a revision: its identity and where it is looked for.

    Attributes:
        name: the pipeline.
        uid: the `run.uid` a run of it gets (`mlrepo.run.identify.of_run`, as the runner computes it).
        needs_model: whether the run must hold a logged model (a training pipeline).
        registers: whether the super-branch registers the model.
        store: the tracking URI the run is looked for in (and a study's target resolved in).
        params: the flattened config a run of it logs as params (for the closest-runs report).
        ignore: the non-identity keys (`identity.ignore`).
        unresolved: why a study's target names no run in the store ("" when it does).
    """

    name: str
    uid: str
    needs_model: bool = False
    registers: bool = False
    store: str = ""
    params: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    unresolved: str = ""


def pipeline_run(
    tree: Path, pipeline: str, branch: str | None = None, uri: str | None = None, root: Path | None = None
) -> PipelineRun:
    """The identity a run of `pipeline` on `tree` gets, computed by the runner's own function.

    The config is composed at `tree` (read as YAML) and handed to `mlrepo.run.identify.of_run`
    with the same task inputs the runner applies (a study's `study.of` resolved against the store).
    A study whose target names no run in the store gets the uid without it, and says why.

    Args:
        tree: a checkout of the revision (a scratch worktree).
        pipeline: the pipeline config's name.
        branch: the super-branch (`branch=production`), default: the config's default.
        uri: the tracking URI (default: `MLFLOW_TRACKING_URI`, else the configured store).
        root: what a relative store path is relative to (default: `tree`).
    """
    from omegaconf import OmegaConf

    from mlrepo.run import identify, identity, tasks
    from mlrepo.run.config import flatten

    defaults = compose_at(tree, [f"pipeline={pipeline}"])
    cfg = compose_at(tree, [f"pipeline={pipeline}"] + ([f"branch={branch}"] if branch else []))
    store = uri or configured_uri(tree, pipeline, root or tree, defaults)
    unresolved = ""
    try:
        ident = identify.of_run(cfg, defaults, root=tree, uri=store)
    except UserError as exc:
        if tasks.task_of(pipeline) not in tasks.STUDY_TASKS:
            raise
        unresolved = str(exc)
        ident = identity.compute(cfg, defaults, root=tree)
    section = OmegaConf.select(cfg, "pipeline") or {}
    return PipelineRun(
        name=pipeline,
        uid=ident.uid,
        needs_model=_makes_model(pipeline, dict(section)),
        registers=bool(OmegaConf.select(cfg, "branch.register_model", default=False)),
        store=store,
        params=flatten(cfg, skip=("hydra", "paths")),
        ignore=identity.ignored_keys(cfg),
        unresolved=unresolved,
    )


def pipeline_uid(tree: Path, pipeline: str, branch: str | None = None) -> tuple[str, bool]:
    """The `run.uid` a run of `pipeline` on `tree` gets (as the runner computes it), and whether it registers.

    Args:
        tree: a checkout of the revision (a scratch worktree).
        pipeline: the pipeline config's name.
        branch: the super-branch (`branch=production`), default: the config's default.

    Returns:
        `(uid, register_model)`.
    """
    found = pipeline_run(tree, pipeline, branch)
    return found.uid, found.registers


def _pipelines(repo: Repo) -> dict[str, dict]:
    from mlrepo.govern.checks.pipelines import pipeline_configs

    found = {}
    for path in pipeline_configs(repo):
        data = repo.yaml(path)
        section = data.get("pipeline") if isinstance(data, dict) else None
        found[path.rsplit("/", 1)[1][: -len(".yaml")]] = section if isinstance(section, dict) else {}
    return found


def _makes_model(name: str, section: dict) -> bool:
    task = name.partition("_")[0]
    return bool(section.get("model")) or task == "train" or "-" in name


def changed_pipelines(
    pr: PullRequest, head_tree: Path, base_tree: Path | None, branch: str | None, uri: str | None = None
) -> list[PipelineRun]:
    """The pipelines whose `run.uid` the PR changes, with the head's identity of each."""
    head_repo = Repo.open(head_tree)
    base_names = set(_pipelines(Repo.open(base_tree))) if base_tree is not None else set()
    found = []
    for name, section in sorted(_pipelines(head_repo).items()):
        if not section.get("code"):
            continue  # PIPELINE-CONFIG reports it
        try:
            head = pipeline_run(head_tree, name, branch, uri, pr.root)
        except (UserError, OSError, SyntaxError) as exc:
            raise UserError(f"Cannot compute the run.uid of pipeline {name} at the head: {exc}") from None
        before = None
        if base_tree is not None and name in base_names:
            try:
                before = pipeline_run(base_tree, name, branch, head.store, pr.root).uid
            except (UserError, OSError, SyntaxError):
                before = None
        if head.uid != before:
            found.append(head)
    return found


def configured_uri(tree: Path, pipeline: str, root: Path, composed=None) -> str:  # noqa: ANN001
    """The tracking URI a run of `pipeline` would use: `MLFLOW_TRACKING_URI` or the composed config's.

    `composed` is the pipeline's config composed at `tree` already (None: composed here).
    """
    from mlrepo.track.tracking import resolve_uri

    if os.environ.get("MLFLOW_TRACKING_URI"):
        return resolve_uri(os.environ["MLFLOW_TRACKING_URI"], root)
    cfg = composed if composed is not None else compose_at(tree, [f"pipeline={pipeline}"])
    return resolve_uri(str(cfg.tracking.uri), root)


def model_problem(uri: str, uid: str, needs_model: bool, registers: bool) -> str | None:
    """Why no FINISHED run with `run.uid` = `uid` in `uri` vouches for a pipeline; None when one does.

    A run vouches when it is FINISHED, has that uid and (for a pipeline that makes a model) holds
    a logged model whose MLmodel file loads, registered in the Model Registry if `registers`.
    """
    problem, _ = vouching_run(uri, uid, needs_model, registers)
    return problem


def vouching_run(uri: str, uid: str, needs_model: bool, registers: bool):  # noqa: ANN201 (mlflow's Run)
    """`(None, run)` for the FINISHED run with `run.uid` = `uid` that vouches, else `(why not, None)`."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    runs = (
        client.search_runs(
            experiments,
            filter_string=f"tags.`run.uid` = '{uid}' AND attributes.status = 'FINISHED'",
            max_results=50,
        )
        if experiments
        else []
    )
    if not runs:
        return f"no FINISHED run with run.uid={uid}", None
    if not needs_model:
        return None, runs[0]
    why = []
    for run in runs:
        problem = _run_model_problem(client, uri, run, registers)
        if problem is None:
            return None, run
        why.append(f"run {run.info.run_id}: {problem}")
    return f"no run with run.uid={uid} holds a loadable model ({'; '.join(why)})", None


def closest_runs(wanted: PipelineRun, limit: int = 3) -> list[str]:
    """The FINISHED runs of the pipeline whose logged config is nearest the head's, with what differs.

    Each line is `run <id> run.uid=<uid>: <key> <run's value> -> <head's value>, ...`, fewest
    differences first (newest first among equals); identity-ignored keys do not count. A run with
    no difference in its config differs by code, the pipeline's defaults file or the data.
    """
    from mlrepo.run.identity import _is_ignored
    from mlrepo.track import runs

    try:
        found = runs.reader(wanted.store).search([wanted.name], status="FINISHED", limit=200)
    except Exception as exc:  # noqa: BLE001 (a store that cannot be read: say so, the gate still fails)
        return [f"(the runs of {wanted.name} could not be listed: {type(exc).__name__})"]
    scored = []
    for order, record in enumerate(found):
        keys = sorted(set(record.params) | set(wanted.params))
        diff = [
            f"{k} {record.params.get(k, '(unset)')} -> {wanted.params.get(k, '(unset)')}"
            for k in keys
            if not _is_ignored(k, wanted.ignore) and record.params.get(k) != wanted.params.get(k)
        ]
        scored.append((len(diff), order, record, diff))
    lines = []
    for _, _, record, diff in sorted(scored, key=lambda item: item[:2])[:limit]:
        uid = record.tags.get(runs.TAG_UID, "?")
        what = ", ".join(diff[:8]) + (f", ... ({len(diff) - 8} more)" if len(diff) > 8 else "")
        if not diff:
            what = "same config: the code it imports, its pipeline's defaults file or the data differ"
        lines.append(f"run {record.run_id} run.uid={uid}: {what}")
    return lines


def _run_model_problem(client, uri: str, run, registers: bool) -> str | None:  # noqa: ANN001
    import mlflow
    from mlflow.models import Model

    run_id = run.info.run_id
    uris = []
    try:
        logged = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
        uris = [m.artifact_location.rstrip("/") + "/MLmodel" for m in logged]
    except Exception:  # noqa: BLE001 (a store without LoggedModels: fall back to the run's artifacts)
        uris = []
    uris.append(f"runs:/{run_id}/model/MLmodel")
    loaded = None
    with tempfile.TemporaryDirectory() as tmp:
        for candidate in uris:
            try:
                path = mlflow.artifacts.download_artifacts(artifact_uri=candidate, dst_path=tmp,
                                                           tracking_uri=uri)  # fmt: skip
                loaded = Model.load(path)
            except Exception:  # noqa: BLE001, S112 (an artifact that is missing or does not load)
                continue
            if loaded.flavors:
                break
            loaded = None
    if loaded is None:
        return "no logged model whose MLmodel file loads"
    if registers and not client.search_model_versions(f"run_id = '{run_id}'"):
        return "its model is not registered (the super-branch registers models)"
    return None


def check_model_runs(
    pr: PullRequest,
    head_tree: Path,
    changed: list[PipelineRun],
    uri: str | None,
    branch: str | None,
    outcome: Outcome | None = None,
) -> list[Violation]:
    """The PR-MODEL-RUN violations: pipelines whose new run.uid no run with a loadable model vouches for.

    A failure names the uid the gate computed and the closest FINISHED runs of the pipeline with
    the config keys that differ; each run accepted is a note in `outcome` (run id, uid, metric).

    Args:
        pr: the pull request.
        head_tree: a checkout of the head (for the configured store).
        changed: `changed_pipelines(...)`.
        uri: the tracking URI (default: `MLFLOW_TRACKING_URI`, else the configured store).
        branch: the super-branch the runs are made on.
        outcome: where the accepted runs are noted (None: not noted).
    """
    found = []
    for wanted in changed:
        store = uri or wanted.store or configured_uri(head_tree, wanted.name, pr.root)
        problem, run = vouching_run(store, wanted.uid, wanted.needs_model, wanted.registers)
        if problem is None:
            if outcome is not None:
                outcome.notes.append(f"PR-MODEL-RUN: pipeline {wanted.name}: {_accepted(run)}")
                outcome.accepted += [run.info.run_id, wanted.uid]
            continue
        command = f"python -m train pipeline={wanted.name}" + (f" branch={branch}" if branch else "")
        message = (
            f"pipeline {wanted.name}: the PR changes its run.uid; {problem} in {store}; "
            f"make it with `{command}` (a checkout of the head, this store)"
        )
        if wanted.unresolved:
            message += f"; first the run it studies: {wanted.unresolved}"
        elif wanted.params.get("study.run_id"):
            studied, of = wanted.params["study.run_id"], wanted.params.get("study.of", "")
            message += f"; it studies run {studied} (study.of {of}), part of its run.uid"
        closest = closest_runs(wanted) if store == wanted.store else []
        if closest:
            message += f"\n    the closest FINISHED runs of {wanted.name}:\n" + _indent("\n".join(closest))
        elif store == wanted.store:
            message += f"\n    (no FINISHED run of {wanted.name} in this store)"
        found.append(Violation(f"conf/pipeline/{wanted.name}.yaml", 1, PR_MODEL_RUN.id, message))
    return found


def _accepted(run) -> str:  # noqa: ANN001 (mlflow's Run)
    """`run <id> (run.uid <uid>, <metric>=<value>)`: the run a gate accepted, as a note shows it."""
    params, metrics = run.data.params, run.data.metrics
    name = params.get("pipeline.metric")
    metric = f", {name}={metrics[name]:.4f}" if name in metrics else ""
    return f"accepted run {run.info.run_id} (run.uid {run.data.tags.get('run.uid', '?')}{metric})"


# --- the other gates --------------------------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(os.environ.get("GITHUB_ACTIONS"))


def _is_director(who: str, directors: set[str]) -> bool:
    author = who.lower().lstrip("@")
    name, _, email = author.partition(" <")
    candidates = {author, name.strip(), email.rstrip(">"), email.rstrip(">").split("@")[0]}
    return bool(candidates & directors)


def check_director(pr: PullRequest, settings: dict, outcome: Outcome) -> None:
    """PR-DIRECTOR: Pipfile changes by a director only; machinery and rules changes with a director.

    The author comes from CI (`PR_AUTHOR`) or `--author`; approvals from `PR_APPROVED_BY` (a comma
    list the workflow fills). Locally, without them, it says the check runs in CI.
    """
    from mlrepo.govern.checks.environment import handles

    guarded = [p.strip("/") for p in settings.get("director_paths") or ["Pipfile", "Pipfile.lock"]]
    touched = [p for p in pr.changed if any(p == g or p.startswith(g.rstrip("/") + "/") for g in guarded)]
    if not touched:
        return
    directors = handles(settings["directors"])
    names = ", ".join(settings["directors"])
    if pr.author is None:
        if _in_ci():
            outcome.failures.append(
                Violation(touched[0], 1, PR_DIRECTOR.id, "PR_AUTHOR is not set: the workflow must pass it")
            )
        else:
            outcome.notes.append(
                f"PR-DIRECTOR: this PR changes {', '.join(touched)}; {names} must make or approve it. "
                "Who made it is checked in CI (PR_AUTHOR), not from your git config."
            )
        return
    if _is_director(pr.author, directors):
        return
    approvers = [a for a in os.environ.get("PR_APPROVED_BY", "").split(",") if a.strip()]
    approved = any(_is_director(a.strip(), directors) for a in approvers)
    for path in touched:
        if path in ("Pipfile", "Pipfile.lock"):
            message = f"changed by {pr.author}, who is not a director ({names}): only a director changes it"
        elif approved:
            continue
        else:
            message = f"changed by {pr.author}: the machinery and the rules need the approval of {names}"
        outcome.failures.append(Violation(path, 1, PR_DIRECTOR.id, message))


def check_added_data(pr: PullRequest, settings: dict, reported: set[str]) -> list[Violation]:
    """PR-ADDED-DATA: every file version the PR's commits add, judged by its size and bytes."""
    from mlrepo.govern.checks.data import TEXT_BYTES, data_problem

    if not pr.added:
        return []
    request = "".join(f"{blob}\n" for _, blob, _ in pr.added).encode()
    sizes = subprocess.run(["git", "-C", str(pr.root), "cat-file", "--batch-check"], input=request,
                           capture_output=True, check=True).stdout.decode().splitlines()  # fmt: skip
    found, seen = [], set()
    for (commit, blob, path), line in zip(pr.added, sizes, strict=False):
        fields = line.split()
        if path in reported or (blob, path) in seen or len(fields) != 3:
            continue
        seen.add((blob, path))
        size = int(fields[2])
        head = b""
        if size <= 64 * 1024 * 1024:
            head = subprocess.run(["git", "-C", str(pr.root), "cat-file", "blob", blob],
                                  capture_output=True, check=False).stdout[:TEXT_BYTES]  # fmt: skip
        problem = data_problem(path, head, size, settings["data"])
        if problem and not path.endswith(".dvc"):
            found.append(
                Violation(path, 1, PR_ADDED_DATA.id, f"commit {commit[:12]} adds {problem} (data in history)")
            )
    return found


def pieces(changed: tuple[str, ...]) -> list[tuple[str, str]]:
    """The pieces a PR changes: `(kind, name)` for models/<M>, datasets/<name>, deploy/<M> folders."""
    found = set()
    for path in changed:
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] in _PIECES and not parts[1].startswith((".", "_")):
            found.add((_PIECES[parts[0]], parts[1]))
    return sorted(found)


def check_one_piece(pr: PullRequest, settings: dict, outcome: Outcome) -> None:
    """PR-ONE-PIECE: one piece per PR (warning, failure when strict) and a branch named after it."""
    found = pieces(pr.changed)
    strict = str(settings.get("one_piece_per_pr", "warn")).lower() == "strict"
    if len(found) > 1:
        names = ", ".join(f"{kind} {name}" for kind, name in found)
        violation = Violation(
            f"{_TOPS[found[0][0]]}/{found[0][1]}",
            1,
            PR_ONE_PIECE.id,
            f"the PR changes {len(found)} pieces ({names}): one piece per branch and PR",
        )
        (outcome.failures if strict else outcome.warnings).append(violation)
    elif len(found) == 1 and pr.head_name is not None:
        kind, name = found[0]
        wanted = re.compile(rf"^{kind}/{re.escape(name)}(/[vV][1-9][0-9]*)?$")
        if not wanted.match(pr.head_name):
            outcome.warnings.append(
                Violation(
                    f"{_TOPS[kind]}/{name}",
                    1,
                    PR_ONE_PIECE.id,
                    f"branch `{pr.head_name}` does not say its piece: name it {kind}/{name} "
                    f"(a version: {kind}/{name}/v2)",
                )
            )


def _sections(text: str) -> dict[str, str]:
    """The body's sections by name (lower case): `## Name` headings, or `- **Name**: text` bullets."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    found: dict[str, str] = {}
    marks = list(re.finditer(r"^\s*(?:#{1,6}\s+(?P<h>[^\n]+?)\s*$|[-*]\s+\*\*(?P<b>[^*\n]+)\*\*\s*:?)",
                             text, flags=re.MULTILINE))  # fmt: skip
    for i, mark in enumerate(marks):
        name = (mark.group("h") or mark.group("b") or "").strip().strip("*:").strip().lower()
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        found.setdefault(name, text[mark.end() : end].strip())
    return found


def check_body(body: str, template: str, settings: dict, model_change: bool, outcome: Outcome) -> None:
    """PR-BODY: Description and Motivation in real words, not the template's; a run id named is the one found.

    The body need not name a run: the model-run gate finds it by `run.uid` and notes it. A 32-hex
    id the body names fails only when the gate accepted runs (`outcome.accepted`) and it is none
    of them (nor their `run.uid`): a stale or mistyped id would mislead the reviewer.
    """
    from mlrepo.govern.checks.substance import real_words

    need = int(settings.get("pr_body_min_words", 5))
    sections, stock = _sections(body), _sections(template)
    for name in ("description", "motivation"):
        text = sections.get(name, "")
        words = real_words(text)
        if stock.get(name) and " ".join(text.split()) == " ".join(stock[name].split()):
            words = 0
        if words < need:
            outcome.failures.append(
                Violation(
                    ".github/pull_request_template.md",
                    1,
                    PR_BODY.id,
                    f"the PR body's {name.title()} has {words} real word(s) of its own, fewer than {need}",
                )
            )
    if not (model_change and outcome.accepted):
        return
    found = outcome.accepted[::2]  # (run id, run.uid) pairs
    for named in dict.fromkeys(_RUN_ID.findall(re.sub(r"<!--.*?-->", " ", body, flags=re.DOTALL))):
        if named not in outcome.accepted:
            outcome.failures.append(
                Violation(
                    ".github/pull_request_template.md",
                    1,
                    PR_BODY.id,
                    f"the PR body names run {named}, but the run the model-run gate accepted is "
                    f"{', '.join(found)}: name that one or none",
                )
            )


def run_pre_commit(pr: PullRequest, tree: Path, config: str, venv: Path) -> list[Violation]:
    """Run the base's hooks (`config`, a file's text) on the changed files of the head's scratch worktree.

    The repository-rules hook is skipped here: `pr-check` runs the base's checker itself. The
    hooks' own settings (`pyproject.toml`'s ruff section, `.secrets.baseline`) are the base's too.
    Each failing hook is reported with its own output.
    """
    files = [p for p in pr.changed if (tree / p).is_file()]
    if not files:
        return []
    config_path = tree.parent / "pre-commit-config.yaml"
    config_path.write_text(config)
    for name in _TOOL_CONFIGS:  # the hooks' own settings are rules too: the base's apply
        text = _show(pr.root, pr.base, name)
        if text is not None:
            (tree / name).write_text(text)
    if venv.is_dir() and not (tree / ".venv").exists():
        (tree / ".venv").symlink_to(venv)
    env = {**os.environ, "SKIP": ",".join(filter(None, [os.environ.get("SKIP", ""), "mlrepo-check"]))}
    # -P: `-m` would put the head's tree (the cwd) first on sys.path, and run a head's `pre_commit/`.
    done = subprocess.run(
        [sys.executable, "-P", "-m", "pre_commit", "run", "-c", str(config_path), "--color", "never",
         "--files", *files],
        cwd=tree, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode == 0:
        return []
    failed = _hook_outputs(done.stdout)
    if not failed:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        return [Violation(".pre-commit-config.yaml", 1, PR_PRE_COMMIT.id,
                          f"pre-commit exited {done.returncode}:\n{_indent(tail)}")]  # fmt: skip
    return [
        Violation(".pre-commit-config.yaml", 1, PR_PRE_COMMIT.id, f"hook failed: {name}\n{_indent(output)}")
        for name, output in failed
    ]


def _indent(text: str, limit: int = 60) -> str:
    lines = text.strip().splitlines()
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more lines)"]
    return "\n".join(f"    | {line}" for line in lines)


def _hook_outputs(stdout: str) -> list[tuple[str, str]]:
    """`(hook name, its output)` for each hook pre-commit reports Failed."""
    status = re.compile(r"^(?P<name>.+?)\.{2,}(?:\(no files to check\))?(?P<status>Passed|Failed|Skipped)$")
    found, current, body = [], None, []
    for line in stdout.splitlines():
        match = status.match(line.rstrip())
        if match:
            if current:
                found.append((current, "\n".join(body)))
            current = match.group("name").strip() if match.group("status") == "Failed" else None
            body = []
        elif current:
            body.append(line)
    if current:
        found.append((current, "\n".join(body)))
    return found


def _show(root: Path, rev: str, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def pr_gates(
    root: Path,
    base: str,
    head: str | None = None,
    author: str | None = None,
    uri: str | None = None,
    pre_commit: bool = True,
    body: str | None = None,
    branch: str | None = None,
    head_name: str | None = None,
) -> Outcome:
    """Every gate of a pull request from `base` to `head`, with the base's rules and hooks.

    Args:
        root: the repository (a checkout of the base in CI; the head's files are read from git).
        base: the base ref (`origin/main`).
        head: the head ref (default: the working tree's HEAD).
        author: the PR's author (default: `PR_AUTHOR`; unknown locally).
        uri: the tracking URI (default: `MLFLOW_TRACKING_URI`, else the head's configured store).
        pre_commit: also run the base's pre-commit hooks on the changed files.
        body: the PR body's text (None: the body gate is skipped, with a note).
        branch: the super-branch runs are made on (`production` on the team server).
        head_name: the head's branch name (default: `HEAD_REF`, else the branch `head` names).

    Returns:
        Failures, warnings and notes.
    """
    from mlrepo import ROOT
    from mlrepo.govern import checks
    from mlrepo.govern.checks.base import merge_settings

    pr = describe(root, base, head or "HEAD", author, head_name)
    settings = merge_settings(_show(root, base, "conf/governance.yaml"))
    repo = Repo.open(root, rev=pr.head, settings=settings)
    outcome = Outcome()
    outcome.failures += checks.check_repo(repo)
    reported = {v.path for v in outcome.failures if v.rule == "RAW-DATA"}
    outcome.failures += check_added_data(pr, settings, reported)
    check_director(pr, settings, outcome)
    check_one_piece(pr, settings, outcome)
    needs_uid = any(p.startswith(_IDENTITY_TOPS) for p in pr.changed)
    model_change = any(p.startswith("models/") for p in pr.changed)
    if needs_uid or pre_commit:
        with scratch(root, pr.head) as head_tree:
            if pre_commit:
                config = _show(root, base, ".pre-commit-config.yaml")
                if config is None:
                    outcome.notes.append(
                        "PR-PRE-COMMIT: the base has no .pre-commit-config.yaml: no hooks run"
                    )
                else:
                    outcome.failures += run_pre_commit(pr, head_tree, config, ROOT / ".venv")
            if needs_uid:
                with scratch(root, _git(root, "rev-parse", f"{base}^{{commit}}")) as base_tree:
                    changed = changed_pipelines(pr, head_tree, base_tree, branch, uri)
                outcome.failures += check_model_runs(pr, head_tree, changed, uri, branch, outcome)
                model_change = model_change or any(p.needs_model for p in changed)
    if body is None:
        outcome.notes.append("PR-BODY: skipped (no --body FILE; the workflow passes the PR's body)")
    else:
        template = _show(root, base, ".github/pull_request_template.md") or ""
        check_body(body, template, settings, model_change, outcome)
    outcome.failures.sort()
    outcome.warnings.sort()
    return outcome


def pr_check(
    root: Path,
    base: str,
    head: str | None = None,
    author: str | None = None,
    uri: str | None = None,
    pre_commit: bool = True,
) -> list[Violation]:
    """The failures of `pr_gates` (kept for callers that only want what blocks the merge)."""
    return pr_gates(root, base, head, author, uri, pre_commit).failures
