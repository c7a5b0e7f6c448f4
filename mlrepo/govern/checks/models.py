"""Rules on each model's documentation: the docstring's sections, Changes once changed, a fresh diagram."""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from mlrepo.govern import diagrams
from mlrepo.govern.checks.base import Repo, Rule, Violation, line_of

MODEL_DOCS = Rule(
    "MODEL-DOCS",
    "models/<Model>/__init__.py's docstring has Description, Explanation, Motivation and Diagram "
    "(a mermaid classDiagram) sections",
    "add the `## Description`, `## Explanation`, `## Motivation`, `## Diagram` headings "
    "(or Descripción, Explicación, Motivación, Diagrama); `python -m mlrepo diagrams` writes the diagram",
)
MODEL_CHANGES = Rule(
    "MODEL-CHANGES",
    "a model whose model.py changed after it was added has a Changes section",
    "add a `## Changes` (or `## Cambios`) section saying what changed, when and why",
)
DIAGRAM_STALE = Rule(
    "DIAGRAM-STALE",
    "the Diagram section matches every class model.py and common.py define (constructor, methods, "
    "return types)",
    "run `python -m mlrepo diagrams` (or `make diagrams`) and commit the updated __init__.py",
)
RULES = (MODEL_DOCS, MODEL_CHANGES, DIAGRAM_STALE)
"""The rules of this family."""

SECTIONS = {
    "description": "Description",
    "descripcion": "Description",
    "explanation": "Explanation",
    "explicacion": "Explanation",
    "motivation": "Motivation",
    "motivacion": "Motivation",
    "diagram": "Diagram",
    "diagrama": "Diagram",
    "changes": "Changes",
    "cambios": "Changes",
}
"""Accepted headings (lower case, without accents) and the section each one is."""
REQUIRED = ("Description", "Explanation", "Motivation", "Diagram")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*(?:\{#[^}]*\})?\s*#*\s*$", re.MULTILINE)


@lru_cache(maxsize=64)
def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def sections(docstring: str) -> set[str]:
    """The sections (English names) whose headings a docstring has."""
    found = set()
    for match in _HEADING.finditer(docstring):
        section = SECTIONS.get(_plain(match.group(1)))
        if section:
            found.add(section)
    return found


def changed_models(repo: Repo) -> dict[str, int] | None:
    """How many times each model's model.py changed after it was added; None outside git.

    One `git log` over models/ (not one per model) keeps the checker fast. An uncommitted
    edit of an already committed model.py counts as a change, so pre-commit catches it.
    """
    if not repo.is_git:
        return None
    revision = [repo.rev] if repo.rev is not None else []
    log = repo.git("log", "--format=%x00", "--name-only", *revision, "--", "models") or ""
    counts: dict[str, int] = {}
    for commit in log.split("\0"):
        for name in {line for line in commit.splitlines() if line.startswith("models/")}:
            parts = name.split("/")
            if len(parts) == 3 and parts[2] == "model.py":
                counts[parts[1]] = counts.get(parts[1], 0) + 1
    status = (repo.git("status", "--porcelain", "--", "models") or "") if repo.rev is None else ""
    for line in status.splitlines():
        parts = line[3:].split("/")
        if len(parts) == 3 and parts[2] == "model.py" and "M" in line[:2] and counts.get(parts[1]):
            counts[parts[1]] += 1
    return {name: count - 1 for name, count in counts.items()}


def check(repo: Repo) -> Iterator[Violation]:
    """Check every model's `__init__.py` docstring and diagram."""
    changes = None
    for name, files in sorted(repo.children("models").items()):
        if name.startswith((".", "_")) or "__init__.py" not in files:
            continue
        path = f"models/{name}/__init__.py"
        tree = repo.tree(path)
        if tree is None:
            continue
        doc = ast.get_docstring(tree, clean=False)
        if doc is None:
            yield Violation(
                path, 1, MODEL_DOCS.id, "no docstring: " + ", ".join(REQUIRED) + " sections missing"
            )
            continue
        source = repo.text(path)
        found = sections(doc)
        missing = [s for s in REQUIRED if s not in found]
        if missing:
            yield Violation(path, 1, MODEL_DOCS.id, "missing section(s): " + ", ".join(missing))
        if "Changes" not in found:
            if changes is None:
                changes = changed_models(repo) or {}
            if changes.get(name, 0) > 0:
                yield Violation(
                    path,
                    1,
                    MODEL_CHANGES.id,
                    f"model.py changed {changes[name]} time(s) since "
                    "the model was added, and the docstring has no Changes section",
                )
        if "Diagram" in found and "model.py" in files:
            yield from _check_diagram(repo, name, path, source)


def _check_diagram(repo: Repo, name: str, path: str, source: str) -> Iterator[Violation]:
    block = diagrams.find_block(source)
    if block is None:
        line = line_of(source, "Diagram")
        yield Violation(path, line, MODEL_DOCS.id, "the Diagram section has no ```mermaid classDiagram block")
        return
    start_line = source.count("\n", 0, block[0]) + 1
    model_tree = repo.tree(f"models/{name}/model.py")
    if model_tree is None:
        return
    common = f"models/{name}/common.py"
    common_tree = repo.tree(common) if common in repo.fileset else None
    if common_tree is not None and any(isinstance(n, ast.ClassDef) for n in common_tree.body):
        model_tree = ast.Module(body=[*model_tree.body, *common_tree.body], type_ignores=[])
    try:
        drawn = diagrams.parse(block[2])
    except diagrams.DiagramSyntaxError as exc:
        yield Violation(path, start_line + exc.line, DIAGRAM_STALE.id, f"not in the diagram standard: {exc}")
        return
    for problem in diagrams.differences(diagrams.specs_from_tree(model_tree), drawn):
        yield Violation(path, start_line, DIAGRAM_STALE.id, f"stale diagram: {problem}")
