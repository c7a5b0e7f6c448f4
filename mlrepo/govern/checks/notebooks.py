"""Rules on notebooks: where they live, that they are committed without outputs, that their code
keeps the project's style (ruff, PEP 8) and that they import only what Pipfile.lock installs.

Notebooks are the one freedom the team's rules give contributors (sketches, tests, code), in
`datasets/<name>/notebooks/` and `models/<Model>/notebooks/` only; the docs use none. A notebook
is read as JSON, its code cells parsed with `ast`, never executed or imported. The style rule
runs the locked `ruff` on the notebook files (ruff lints `.ipynb` natively) with the tree's ruff
settings (pyproject.toml), as a subprocess; for a git revision the notebook goes on ruff's stdin.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mlrepo.govern.checks.base import Repo, Rule, Violation

NOTEBOOK_PLACE = Rule(
    "NOTEBOOK-PLACE",
    "notebooks live only in datasets/<name>/notebooks/ and models/<Model>/notebooks/",
    "move it there (`git mv x.ipynb models/<Model>/notebooks/`); what other code needs belongs in a "
    ".py module, not a notebook",
)
NOTEBOOK_OUTPUTS = Rule(
    "NOTEBOOK-OUTPUTS",
    "notebooks are committed without outputs or execution counts",
    "strip it: `.venv/bin/nbstripout <notebook>` (the pre-commit hook does it: make pre-commit-install)",
)
NOTEBOOK_LINT = Rule(
    "NOTEBOOK-LINT",
    "notebook code passes ruff with the project's settings (PEP 8, pyflakes, import order)",
    "fix what ruff says (`.venv/bin/ruff check --fix <notebook>`, then `ruff format <notebook>`)",
)
NOTEBOOK_IMPORT = Rule(
    "NOTEBOOK-IMPORT",
    "a notebook imports only the standard library, the project's packages, modules next to it and "
    "packages in Pipfile.lock",
    "use a locked package instead, or ask the development director to add it to Pipfile (only the "
    "director changes Pipfile and Pipfile.lock)",
)
RULES = (NOTEBOOK_PLACE, NOTEBOOK_OUTPUTS, NOTEBOOK_LINT, NOTEBOOK_IMPORT)
"""The rules of this family."""

PLACE = re.compile(r"^(datasets/[^/]+|models/[^/]+)/notebooks/(.+/)?[^/]+\.ipynb$")
"""Where a notebook may be."""
PROJECT = ("mlrepo", "datasets", "models", "train")
"""The repository's own packages (installed editable): always importable."""
IMPORT_NAMES = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "jose": "python-jose",
    "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib",
}
"""Import names that are not their distribution's name (the common ones: no metadata scan needed)."""
_MAGIC = re.compile(r"^\s*[%!]|\?\s*$")


def check(repo: Repo) -> Iterator[Violation]:
    """Check every notebook of the tree."""
    notebooks = [p for p in repo.files if p.endswith(".ipynb")]
    if not notebooks:
        return
    readable = []
    for path in notebooks:
        if not PLACE.match(path):
            where = "a notebook outside datasets/<name>/notebooks/ and models/<Model>/notebooks/"
            yield Violation(path, 1, NOTEBOOK_PLACE.id, where)
        try:
            notebook = json.loads(repo.text(path))
            cells = notebook["cells"]
        except (ValueError, KeyError, TypeError) as exc:
            repo.unreadable[path] = (1, f"not a notebook (nbformat 4 JSON with cells): {exc}")
            continue
        readable.append(path)
        yield from _outputs(path, cells)
        yield from _imports(repo, path, cells)
    yield from _ruff(repo, readable)


def _code_cells(cells: list) -> Iterator[tuple[int, str]]:
    for number, cell in enumerate(cells, 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            yield number, "".join(source) if isinstance(source, list) else str(source)


def _outputs(path: str, cells: list) -> Iterator[Violation]:
    dirty = [
        n
        for n, cell in enumerate(cells, 1)
        if isinstance(cell, dict)
        and cell.get("cell_type") == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    if dirty:
        shown = ", ".join(map(str, dirty[:10])) + (" ..." if len(dirty) > 10 else "")
        yield Violation(path, 1, NOTEBOOK_OUTPUTS.id, f"cell(s) {shown} keep outputs or an execution count")


def imported_names(source: str) -> list[tuple[int, str]]:
    """The absolute imports of one code cell: `(line in the cell, dotted name)`.

    IPython magics and shell lines (`%matplotlib`, `!ls`, `x?`) are blanked first; a cell that
    still does not parse yields nothing (ruff reports the syntax error).
    """
    lines = ["" if _MAGIC.search(line) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(repo: Repo) -> set[str]:
    """The canonical names of every package in Pipfile.lock (default and develop)."""
    try:
        lock = json.loads(repo.text("Pipfile.lock")) if "Pipfile.lock" in repo.fileset else {}
    except ValueError:
        return set()  # PIPFILE-LOCK reports a broken lock
    return {_canonical(name) for section in ("default", "develop") for name in lock.get(section) or {}}


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Import name -> distributions, from this environment's metadata (≈ 0.4 s: only when needed)."""
    from importlib.metadata import packages_distributions

    return packages_distributions()


def provider(name: str, locked: set[str]) -> str | None:
    """The locked distribution that provides the top-level import `name`, or None.

    Tries the name itself, the common aliases (`sklearn` is scikit-learn), then the installed
    packages' metadata.
    """
    top = name.split(".")[0]
    for candidate in (name, top):
        if _canonical(candidate) in locked:
            return _canonical(candidate)
        alias = IMPORT_NAMES.get(candidate)
        if alias and _canonical(alias) in locked:
            return _canonical(alias)
    for dist in _distributions().get(top, []):
        if _canonical(dist) in locked:
            return _canonical(dist)
    return None


def _imports(repo: Repo, path: str, cells: list) -> Iterator[Violation]:
    folder = path.rsplit("/", 1)[0] + "/"
    locked: set[str] | None = None
    for number, source in _code_cells(cells):
        for line, name in imported_names(source):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in PROJECT or top == "__future__":
                continue
            if f"{folder}{top}.py" in repo.fileset or any(
                f.startswith(f"{folder}{top}/") for f in repo.files
            ):
                continue
            locked = locked_names(repo) if locked is None else locked
            if provider(name, locked) is None:
                yield Violation(path, 1, NOTEBOOK_IMPORT.id,
                                f"cell {number} line {line}: `import {name}`: no package in Pipfile.lock "
                                "provides it")  # fmt: skip


def _ruff_binary() -> str | None:
    """The locked ruff next to this Python (the venv's), else one on PATH."""
    here = Path(sys.executable).parent / "ruff"
    return str(here) if here.exists() else shutil.which("ruff")


def _ruff(repo: Repo, paths: list[str]) -> Iterator[Violation]:
    """Run the locked ruff on the notebooks: one call for a working tree, stdin each for a revision."""
    if not paths:
        return
    ruff = _ruff_binary()
    if ruff is None:
        yield Violation(paths[0], 1, NOTEBOOK_LINT.id, "ruff is not installed: run `make init`")
        return
    base = [ruff, "check", "--no-cache", "--no-fix", "--output-format", "json", "--exit-zero"]
    if repo.rev is None:
        runs = [(base + ["--", *paths], None)]
    else:
        runs = [(base + ["--stdin-filename", p, "-"], repo.text(p)) for p in paths]
    for args, stdin in runs:
        done = subprocess.run(args, cwd=repo.root, input=stdin, capture_output=True, text=True, check=False)
        try:
            found = json.loads(done.stdout or "[]")
        except ValueError:
            found = None
        if done.returncode != 0 or not isinstance(found, list):
            target = args[-1] if stdin is None else args[-2]
            message = (done.stderr or done.stdout).strip().splitlines()[:1] or ["no output"]
            yield Violation(target, 1, NOTEBOOK_LINT.id, f"ruff failed: {message[0]}")
            continue
        for item in found:
            rel = _relative(repo.root, Path(item.get("filename", "")))
            row = (item.get("location") or {}).get("row", 1)
            cell = item.get("cell")
            where = f"cell {cell} line {row}" if cell else f"line {row}"
            yield Violation(rel, 1, NOTEBOOK_LINT.id, f"{where}: {item.get('code')} {item.get('message')}")


def _relative(root: Path, filename: Path) -> str:
    """A path ruff printed (absolute for files, as given for stdin), relative to the root."""
    if filename.is_absolute():
        for top in (root, root.resolve()):
            try:
                return filename.relative_to(top).as_posix()
            except ValueError:
                continue
    return filename.as_posix()
