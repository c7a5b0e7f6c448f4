"""Rules on Python code, read as AST: docstrings everywhere public, and each pipeline's entry point."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from mlrepo.govern.checks.base import Repo, Rule, Violation

DOCSTRING = Rule(
    "DOCSTRING",
    "every public module, class and function in datasets/, models/, train/, mlrepo/ and deploy/ "
    "has a docstring",
    "add a Google-style docstring: a one-line summary, then `Args:` / `Returns:` / `Raises:` as needed",
)
PIPELINE_ENTRY = Rule(
    "PIPELINE-ENTRY",
    "train/<name>/pipeline.py defines `train(config: DictConfig)` at module level",
    "define `def train(config: DictConfig):` (from omegaconf import DictConfig) at the top level "
    "of pipeline.py",
)
PIPELINE_RETURN = Rule(
    "PIPELINE-RETURN",
    "train/<name>/pipeline.py's `train()` returns its product (a model, a table, a report) on every path",
    "end every path of `train` with `return <the product>` (or a `raise`); the runner logs what it returns",
)
RULES = (DOCSTRING, PIPELINE_ENTRY, PIPELINE_RETURN)
"""The rules of this family."""

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SKIP_DECORATORS = {"overload", "setter", "deleter"}
_DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)
_DOC_OPENERS = ('"' * 3, "'" * 3, "r" + '"' * 3)


def _public_module(path: str) -> bool:
    """Modules named `_x.py` are checked like others; folders starting with `.` or `__` are not."""
    parts = path.split("/")
    return not any(part.startswith((".", "__")) for part in parts[:-1])


def _decorated(node: ast.AST, names: set[str]) -> bool:
    for deco in getattr(node, "decorator_list", []):
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")) in names:
            return True
    return False


def _undocumented(body: list[ast.stmt], prefix: str) -> Iterator[tuple[int, str]]:
    for node in body:
        if not isinstance(node, (*_FUNCTIONS, ast.ClassDef)) or node.name.startswith("_"):
            continue
        if _decorated(node, _SKIP_DECORATORS):
            continue
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        if ast.get_docstring(node) is None:
            yield node.lineno, f"{kind} `{prefix}{node.name}` has no docstring"
        if isinstance(node, ast.ClassDef):
            yield from _undocumented(node.body, f"{prefix}{node.name}.")


def _trivially_documented(text: str) -> bool:
    """A module that opens with a docstring and defines nothing needs no parse (the checker's speed)."""
    return text.startswith(_DOC_OPENERS) and not _DEFINITION.search(text)


def check(repo: Repo) -> Iterator[Violation]:
    """Check docstrings in the documented folders and the `train` entry of every pipeline."""
    tops = tuple(top.rstrip("/") + "/" for top in repo.settings["documented"])
    for path in repo.files:
        if not path.endswith(".py") or not path.startswith(tops) or not _public_module(path):
            continue
        if _trivially_documented(repo.text(path)):
            continue
        tree = repo.tree(path)
        if tree is None:
            continue
        if ast.get_docstring(tree) is None:
            yield Violation(
                path, 1, DOCSTRING.id, "the module has no docstring (one or two lines: what it is for)"
            )
        for line, message in _undocumented(tree.body, ""):
            yield Violation(path, line, DOCSTRING.id, message)
    for name, files in repo.children("train").items():
        if name.startswith((".", "_")):
            continue
        path = f"train/{name}/pipeline.py"
        if "pipeline.py" not in files:
            yield Violation(f"train/{name}", 1, PIPELINE_ENTRY.id, "missing pipeline.py")
            continue
        tree = repo.tree(path)
        if tree is not None:
            yield from _check_entry(path, tree)


def _check_entry(path: str, tree: ast.Module) -> Iterator[Violation]:
    entry = next((n for n in tree.body if isinstance(n, _FUNCTIONS) and n.name == "train"), None)
    if entry is None:
        yield Violation(path, 1, PIPELINE_ENTRY.id, "no module-level function `train`")
        return
    args = [*entry.args.posonlyargs, *entry.args.args]
    first = args[0] if args else None
    annotation = ast.unparse(first.annotation) if first is not None and first.annotation is not None else ""
    if not _returns(entry.body):
        yield Violation(
            path,
            entry.lineno,
            PIPELINE_RETURN.id,
            "`train` does not return a value on every path (the runner logs what it returns)",
        )
    if first is None or first.arg != "config" or annotation.split(".")[-1] != "DictConfig":
        yield Violation(path, entry.lineno, PIPELINE_ENTRY.id, "`train` must take `config: DictConfig` first")
    elif len(args) > 1 and len(entry.args.defaults) < len(args) - 1:
        yield Violation(
            path, entry.lineno, PIPELINE_ENTRY.id, "`train` takes one required argument, `config`"
        )


def _returns(body: list[ast.stmt]) -> bool:
    """Whether every path through `body` ends in `return <value>` or `raise` (read statically)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return last.value is not None and not (
            isinstance(last.value, ast.Constant) and last.value.value is None
        )
    if isinstance(last, ast.Raise):
        return True
    if isinstance(last, ast.If):
        return _returns(last.body) and _returns(last.orelse)
    if isinstance(last, (ast.With, ast.AsyncWith)):
        return _returns(last.body)
    if isinstance(last, ast.Try):
        if last.finalbody and _returns(last.finalbody):
            return True
        main = _returns(last.orelse) if last.orelse else _returns(last.body)
        return main and all(_returns(handler.body) for handler in last.handlers)
    if isinstance(last, ast.Match):
        exhaustive = any(
            isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None and case.guard is None
            for case in last.cases
        )
        return exhaustive and all(_returns(case.body) for case in last.cases)
    if isinstance(last, ast.While) and isinstance(last.test, ast.Constant) and last.test.value is True:
        return not any(isinstance(node, ast.Break) for node in ast.walk(last))
    return False
