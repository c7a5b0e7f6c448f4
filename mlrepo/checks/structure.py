"""Rules on the folder layout: datasets, models and deploys have the files the design promises."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from mlrepo.checks.base import Repo, Rule, Violation

DATASET_LAYOUT = Rule(
    "DATASET-LAYOUT",
    "datasets/<name>/ has dataset.py and common.py",
    "add the missing file (common.py may be empty: a one-line docstring)",
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
    "ecr.sh, and no __init__.py",
    "add the missing file, `chmod +x ecr.sh` (`git update-index --chmod=+x`), delete any __init__.py",
)
RULES = (DATASET_LAYOUT, MODEL_NAME, MODEL_LAYOUT, DEPLOY_LAYOUT)
"""The rules of this family."""

CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
VERSION = re.compile(r"^V[0-9]+$")
SAMPLE = re.compile(r"^sample[-_]input\.(csv|json|ya?ml)$")


def _is_package_dir(name: str) -> bool:
    return not name.startswith((".", "_"))


def check(repo: Repo) -> Iterator[Violation]:
    """Check the layout of datasets/, models/ and deploy/."""
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
    for model, files in repo.children("deploy").items():
        versions: dict[str, list[str]] = {}
        for path in files:
            head, sep, tail = path.partition("/")
            if sep and VERSION.match(head):
                versions.setdefault(head, []).append(tail)
        for version, inside in sorted(versions.items()):
            yield from _check_deploy(repo, f"deploy/{model}/{version}", inside)


def _check_deploy(repo: Repo, folder: str, files: list[str]) -> Iterator[Violation]:
    for path in files:
        if path == "__init__.py" or path.endswith("/__init__.py"):
            yield Violation(
                f"{folder}/{path}", 1, DEPLOY_LAYOUT.id, "a deploy is not a package: no __init__.py"
            )
    for needed in ("create_bento_model.py", "common.py", "service.py", "ecr.sh"):
        if needed not in files:
            yield Violation(folder, 1, DEPLOY_LAYOUT.id, f"missing {needed}")
    if not any(SAMPLE.match(path) for path in files):
        yield Violation(
            folder, 1, DEPLOY_LAYOUT.id, "missing a sample input (sample-input.csv, .json or .yaml)"
        )
    if "ecr.sh" in files and not os.access(repo.root / folder / "ecr.sh", os.X_OK):
        yield Violation(f"{folder}/ecr.sh", 1, DEPLOY_LAYOUT.id, "ecr.sh is not executable")
