"""What `new pipeline` reads from the code it builds on: the model's arguments and the task kind.

- `model_arguments`: the keyword arguments of `models/<Model>/model.py`'s class, read statically
  (ast) from its `__init__` signature, with their defaults: they become the config's `model:`
  block, so every key is an argument the model takes.
- `infer_kind`: `regression` when the dataset's target column is a float, else `classification`,
  read from the rows the dataset's `load_frame()` returns (in a subprocess: user code is not
  imported into the command's process).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from mlrepo.run.metric import TASKS

_INFER = """
import json, sys
import pandas as pd
from datasets.{name}.common import TARGET
from datasets.{name}.dataset import load_frame
frame = load_frame()
target = frame[TARGET]
print(json.dumps({{"target": TARGET, "dtype": str(target.dtype),
                  "float": bool(pd.api.types.is_float_dtype(target))}}))
"""


def _yaml_value(node: ast.expr, constants: dict[str, object]) -> str | None:
    """A default value as YAML text, or None when it is not a literal (or a module constant)."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.Name) and node.id in constants:
            value = constants[node.id]
        else:
            return None
    if value is None:
        return "null"
    if isinstance(value, bool | int | float | str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return None


def _constants(*sources: str) -> dict[str, object]:
    """Module-level `NAME = <literal>` assignments of the given sources."""
    found: dict[str, object] = {}
    for source in sources:
        for node in ast.parse(source).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            if isinstance(target, ast.Name) and node.value is not None:
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return found


def model_arguments(root: Path, model: str) -> list[tuple[str, str]]:
    """The `(name, default as YAML)` of each argument of `model`'s constructor, in order.

    Arguments without a default, or with a default that is not a literal or a constant of the
    model's `model.py` / `common.py`, are left out (the model's own default then applies); so are
    `*args` and `**kwargs`. A class without `__init__` gives none.
    """
    folder = root / "models" / model
    source = (folder / "model.py").read_text()
    common = (folder / "common.py").read_text() if (folder / "common.py").is_file() else ""
    constants = _constants(common, source)
    tree = ast.parse(source)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == model), None)
    body = cls.body if cls else []
    init = next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        return []
    positional = [*init.args.posonlyargs, *init.args.args][1:]  # without self
    defaults = [None] * (len(positional) - len(init.args.defaults)) + list(init.args.defaults)
    pairs = list(zip(positional, defaults, strict=True))
    pairs += list(zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True))
    out = []
    for arg, default in pairs:
        text = _yaml_value(default, constants) if default is not None else None
        if text is not None:
            out.append((arg.arg, text))
    return out


def infer_kind(root: Path, dataset: str) -> tuple[str, str]:
    """The task kind of a pipeline on `dataset`, and the sentence that says how it was chosen.

    Returns:
        `(kind, why)`: `regression` for a float target, `classification` for any other; when the
        rows cannot be read (`load_frame()` not written yet), `classification` and why.
    """
    done = subprocess.run(
        [sys.executable, "-c", _INFER.format(name=dataset)], cwd=root, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return TASKS[0], (
            f"task: classification (the default: datasets/{dataset}'s rows could not be read, {last}); "
            "pass --task regression for a float target"
        )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    kind = "regression" if found["float"] else "classification"
    other = "classification" if kind == "regression" else "regression"
    return kind, (
        f"task: {kind} (inferred: datasets/{dataset}'s target '{found['target']}' is {found['dtype']}); "
        f"pass --task {other} to choose otherwise"
    )
