"""The repository's rules, executable: `python -m mlrepo check` runs every family below on a tree.

Each family module (`structure`, `code`, `models`, `pipelines`, `data`, `environment`,
`notebooks`) declares its `RULES` (stable ids) and a `check(repo)` that yields violations. The
checker reads files (AST, YAML, TOML, JSON) and never imports the code it checks; the notebook
rules run the locked ruff on notebook files as a subprocess.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlrepo.govern.checks import code, data, environment, models, notebooks, pipelines, structure, substance
from mlrepo.govern.checks.base import Repo, Rule, Violation

FAMILIES = (structure, code, substance, models, pipelines, data, environment, notebooks)
"""Every rule family, in the order reports list them."""

PARSE = Rule("PARSE", "files the checker reads parse (Python, YAML)", "fix the syntax error at that line")
"""Reported when a file the rules need cannot be read."""

RULES: dict[str, Rule] = {rule.id: rule for family in FAMILIES for rule in family.RULES} | {PARSE.id: PARSE}
"""Every rule by id."""

__all__ = ["FAMILIES", "RULES", "Repo", "Rule", "Violation", "check_repo", "run"]


def run(root: Path, only: Iterable[str] = ()) -> list[Violation]:
    """Check the tree at `root` against every rule (or only the ids in `only`).

    Args:
        root: the repository root.
        only: rule ids to keep; empty for all.

    Returns:
        The violations, sorted by path and line.
    """
    return check_repo(Repo.open(root), only)


def check_repo(repo: Repo, only: Iterable[str] = ()) -> list[Violation]:
    """Check an opened tree (a working tree, or a git revision read as data) against every rule.

    Args:
        repo: the tree, with the rules' data to apply.
        only: rule ids to keep; empty for all.

    Returns:
        The violations, sorted by path and line.
    """
    keep = set(only)
    found = [v for family in FAMILIES for v in family.check(repo)]
    found.extend(
        Violation(path, line, PARSE.id, message) for path, (line, message) in repo.unreadable.items()
    )
    return sorted(v for v in found if not keep or v.rule in keep)


def report(violations: list[Violation], extra: Iterable[Rule] = ()) -> str:
    """The text a person reads: `RULE-ID path:line message`, then how to fix it, then a count.

    Args:
        violations: what to report.
        extra: rules beyond the checker's (the pull-request gates), for their how-to-fix lines.
    """
    known = RULES | {rule.id: rule for rule in extra}
    lines = []
    for v in violations:
        lines.append(f"{v.rule} {v.path}:{v.line} {v.message}")
        lines.append(f"    fix: {known[v.rule].fix}" if v.rule in known else "")
    if violations:
        rules = sorted({v.rule for v in violations})
        lines.append(f"{len(violations)} violation(s) of {len(rules)} rule(s): {', '.join(rules)}")
    return "\n".join(line for line in lines if line)
