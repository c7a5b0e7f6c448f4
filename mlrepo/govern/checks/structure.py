"""Rules on the folder layout: datasets, models and deploys have the files the design promises."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlrepo.govern.checks.base import Repo, Rule, Violation

DATASET_LAYOUT = Rule(
    "DATASET-LAYOUT",
    "datasets/<name>/ has dataset.py and common.py; code under datasets/ lives in datasets/<name>/",
    "add the missing file (common.py may be empty: a one-line docstring); move a flat "
    "datasets/<file>.py into its dataset's folder (its loader belongs in dataset.py)",
)
MODEL_NAME = Rule(
    "MODEL-NAME",
    "models/<ModelName>/ is CamelCase",
    "rename the folder in CamelCase (IrisClassifier, DigitsCNN) and update the imports and configs",
)
MODEL_LAYOUT = Rule(
    "MODEL-LAYOUT",
    "models/<ModelName>/ has __init__.py, model.py and common.py",
    "add the missing file (common.py may be empty: a one-line docstring)",
)
DEPLOY_LAYOUT = Rule(
    "DEPLOY-LAYOUT",
    "deploy/<Model>/V<n>/ has create_bento_model.py, common.py, a sample input, service.py, an executable "
    "ecr.sh, deploy.yaml (how it runs: replicas, resources, non-secret settings), and no __init__.py",
    "add the missing file (deploy.yaml: `python -m mlrepo deploy declare --model <Model>/V<n>`), "
    "`chmod +x ecr.sh` (`git update-index --chmod=+x`), delete any __init__.py",
)
DEPLOY_SHAPE = Rule(
    "DEPLOY-SHAPE",
    "every folder under deploy/<Model>/ is V<n> (n >= 1, no leading zero) and deploy/<Model> names an "
    "existing models/<Model>",
    "rename the folder V1, V2... (a new output contract is a new V<n>), or name the deploy after its "
    "models/<Model> folder",
)
RULES = (DATASET_LAYOUT, MODEL_NAME, MODEL_LAYOUT, DEPLOY_LAYOUT, DEPLOY_SHAPE)
"""The rules of this family."""

CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
VERSION = re.compile(r"^V[1-9][0-9]*$")
"""A deploy version folder: `V1`, `V2`, ... (no `V0`, no leading zero, no `v2` or `V2.1`)."""
DATASET = re.compile(r"^[a-z][a-z0-9_]*$")
"""A dataset folder name: snake_case (`iris`, `digits`)."""
_DATASET_TOP = {"__init__.py", "README.md", ".gitkeep"}
SAMPLE = re.compile(r"^sample[-_]input\.(csv|json|ya?ml)$")


def _is_package_dir(name: str) -> bool:
    return not name.startswith((".", "_"))


def check(repo: Repo) -> Iterator[Violation]:
    """Check the layout of datasets/, models/ and deploy/."""
    for name in _top_files(repo, "datasets"):
        if name not in _DATASET_TOP:
            yield Violation(
                f"datasets/{name}",
                1,
                DATASET_LAYOUT.id,
                "code under datasets/ lives in datasets/<name>/ (dataset.py, common.py)",
            )
    for name, files in repo.children("datasets").items():
        if _is_package_dir(name):
            for needed in ("dataset.py", "common.py"):
                if needed not in files:
                    yield Violation(f"datasets/{name}", 1, DATASET_LAYOUT.id, f"missing {needed}")
    for name, files in repo.children("models").items():
        if not _is_package_dir(name):
            continue
        if not CAMEL.match(name) or not any(c.islower() for c in name):
            yield Violation(f"models/{name}", 1, MODEL_NAME.id, f"`{name}` is not CamelCase")
        for needed in ("__init__.py", "model.py", "common.py"):
            if needed not in files:
                yield Violation(f"models/{name}", 1, MODEL_LAYOUT.id, f"missing {needed}")
    models = repo.children("models")
    for model, files in repo.children("deploy").items():
        if model.startswith("."):
            continue
        if model not in models:
            yield Violation(
                f"deploy/{model}", 1, DEPLOY_SHAPE.id, f"no models/{model}: a deploy is named after its model"
            )
        versions: dict[str, list[str]] = {}
        for path in files:
            head, sep, tail = path.partition("/")
            if sep and VERSION.match(head):
                versions.setdefault(head, []).append(tail)
            elif sep and head not in versions and not head.startswith("."):
                versions.setdefault(head, [])
                yield Violation(
                    f"deploy/{model}/{head}",
                    1,
                    DEPLOY_SHAPE.id,
                    f"`{head}` is not a version folder V<n> (n >= 1, no leading zero)",
                )
        versions = {v: inside for v, inside in versions.items() if VERSION.match(v)}
        for version, inside in sorted(versions.items()):
            yield from _check_deploy(repo, f"deploy/{model}/{version}", inside)


def _top_files(repo: Repo, top: str) -> list[str]:
    prefix = top + "/"
    return [p[len(prefix) :] for p in repo.files if p.startswith(prefix) and p.count("/") == 1]


def _check_deploy(repo: Repo, folder: str, files: list[str]) -> Iterator[Violation]:
    for path in files:
        if path == "__init__.py" or path.endswith("/__init__.py"):
            yield Violation(
                f"{folder}/{path}", 1, DEPLOY_LAYOUT.id, "a deploy is not a package: no __init__.py"
            )
    for needed in ("create_bento_model.py", "common.py", "service.py", "ecr.sh", "deploy.yaml"):
        if needed not in files:
            yield Violation(folder, 1, DEPLOY_LAYOUT.id, f"missing {needed}")
    if not any(SAMPLE.match(path) for path in files):
        yield Violation(
            folder, 1, DEPLOY_LAYOUT.id, "missing a sample input (sample-input.csv, .json or .yaml)"
        )
    if "deploy.yaml" in files:
        yield from _check_declaration(repo, f"{folder}/deploy.yaml")
    if "ecr.sh" in files and not repo.executable(f"{folder}/ecr.sh"):
        yield Violation(f"{folder}/ecr.sh", 1, DEPLOY_LAYOUT.id, "ecr.sh is not executable")


def _check_declaration(repo: Repo, path: str) -> Iterator[Violation]:
    """deploy.yaml declares only known keys, and no setting whose name says it is a secret."""
    from mlrepo.ship.kube import KEYS, SECRET_NAME

    data = repo.yaml(path)  # None when it is not YAML (reported as unreadable too)
    if not isinstance(data, dict):
        yield Violation(path, 1, DEPLOY_LAYOUT.id, "deploy.yaml is a mapping: replicas, resources, config")
        return
    for key in sorted(set(data) - set(KEYS)):
        yield Violation(path, 1, DEPLOY_LAYOUT.id, f"unknown key `{key}` (known: {', '.join(sorted(KEYS))})")
    config = data.get("config") or {}
    for key in sorted(k for k in config if SECRET_NAME.search(str(k))) if isinstance(config, dict) else []:
        yield Violation(
            path, 1, DEPLOY_LAYOUT.id, f"`{key}` looks like a secret: a ConfigMap is not the place"
        )
