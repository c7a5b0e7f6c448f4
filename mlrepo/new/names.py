"""Names a `new` command accepts, judged by the checker's rules (`mlrepo.govern.checks`): one truth.

A bad name raises `UserError` (exit 2) with the rule's id, what it asks and how to fix it.
"""

from __future__ import annotations

import keyword
import re

from mlrepo.errors import UserError
from mlrepo.govern.checks import data, pipelines, structure
from mlrepo.govern.checks.base import Rule

DATASET = re.compile(r"^[a-z][a-z0-9_]*$")
"""A dataset folder is imported as `datasets.<name>`: a lower-case Python identifier."""
_PAIR_VERSION = re.compile(r"^(?P<base>[a-z][a-z0-9]*?)(?P<version>v[0-9]+)$")


def _refuse(rule: Rule | None, name: str, what: str, fix: str) -> UserError:
    rule_id = f"{rule.id}: " if rule else ""
    return UserError(f"{rule_id}`{name}` is not a valid {what}. {fix}")


def model(name: str) -> str:
    """Check a model's name with the MODEL-NAME rule (`models/<ModelName>/` is CamelCase)."""
    if not structure.CAMEL.match(name) or not any(c.islower() for c in name):
        rule = structure.MODEL_NAME
        raise _refuse(rule, name, "model name", f"The rule: {rule.summary}; {rule.fix}.")
    return name


def dataset(name: str) -> str:
    """Check a dataset's name: a lower-case Python identifier (it is imported as `datasets.<name>`)."""
    if not DATASET.match(name) or keyword.iskeyword(name) or name.startswith("_"):
        raise _refuse(
            structure.DATASET_LAYOUT,
            name,
            "dataset name",
            "datasets/<name>/ is imported as datasets.<name>: use lower case letters, digits and _, "
            "starting with a letter (e.g. wine, credit_v2).",
        )
    return name


def pipeline(name: str, tasks: list[str]) -> str:
    """Check a pipeline's name with the PIPELINE-NAME rule (`<task>_<name>`, `<model&v>-<dataset&v>`)."""
    if not pipelines.name_ok(name, tasks):
        rule = pipelines.PIPELINE_NAME
        raise _refuse(
            rule, name, "pipeline name", f"The rule: {rule.summary} (tasks: {', '.join(tasks)}); {rule.fix}."
        )
    return name


def deploy_version(name: str) -> str:
    """Check a deploy version folder's name with the DEPLOY-SHAPE rule (`V<n>`, n >= 1)."""
    from mlrepo.govern.checks import names as rules

    problem = rules.problem("deploy", name)
    if problem:
        raise UserError(f"DEPLOY-SHAPE: {problem}; pass --version 1, 2, ...")
    return name


def table(name: str) -> str:
    """Check a table's name with the TABLE-NAME rule (`<model-name>_dataset_<version>`)."""
    if not data.TABLE.match(name):
        rule = data.TABLE_NAME
        raise _refuse(rule, name, "table name", f"The rule: {rule.summary}; {rule.fix}.")
    return name


def code_of(pipeline_name: str) -> str:
    """The `train/<code>/` package of a pipeline: `rfv1-winev1` → `rfv1_winev1`, `train_wine` → `wine`."""
    if pipelines.PAIR.match(pipeline_name):
        return pipeline_name.replace("-", "_")
    return pipeline_name.partition("_")[2]


def table_of(pipeline_name: str, dataset_name: str) -> tuple[str, str]:
    """The table a pipeline reads and its dataset version: `rfv1-winev1` → (`rfv1_dataset_v1`, `v1`).

    A `<task>_<name>` pipeline reads version v1 of a table named after `<name>` without `_`.
    """
    if pipelines.PAIR.match(pipeline_name):
        model_part, dataset_part = pipeline_name.split("-")
        version = _PAIR_VERSION.match(dataset_part)["version"]  # the PAIR rule guarantees it
        return table(f"{model_part}_dataset_{version}"), version
    base = re.sub(r"[^a-z0-9]", "", pipeline_name.partition("_")[2]) or dataset_name.replace("_", "")
    return table(f"{base}_dataset_v1"), "v1"
