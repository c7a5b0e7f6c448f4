"""Run identity: the `run.uid` that says two runs would train the same thing.

`run.uid` hashes the pipeline name, the config values that differ from their defaults (minus
the non-identity keys declared in `identity.ignore`), the identity values the super-branch's file
sets, the dataset version and a digest of the source of every project module the pipeline
imports, found statically with `ast`.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mlrepo import ROOT

#: The top-level packages whose modules count as the project's own code.
PROJECT_PACKAGES = ("mlrepo", "datasets", "models", "train")
#: Used when a config declares no `identity.ignore`.
DEFAULT_IGNORE = (
    "tracking",
    "logging",
    "mode",
    "launcher",
    "paths",
    "identity",
    "branch",
    "workers",
    "device",
    "cache",
    "heartbeat",
    "wait",
)
SHORT = 8


@dataclass(frozen=True)
class Identity:
    """What a run is, for the purpose of never training it twice.

    Attributes:
        uid: the hex digest (`run.uid` tag).
        changed: the identity keys whose value differs from the default, as `{"model.C": "0.5"}`.
        dataset: the dataset version (`data.version`), or `""`.
        code: the digest of the pipeline's source files.
        files: the source files that went into `code`, relative to the repository root.
    """

    uid: str
    changed: dict[str, str] = field(default_factory=dict)
    dataset: str = ""
    code: str = ""
    files: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        """The first characters of the uid, as listings show it."""
        return self.uid[:SHORT]

    def changed_text(self) -> str:
        """The changed values as `key=value` words, for tags and listings."""
        return " ".join(f"{k}={v}" for k, v in sorted(self.changed.items()))


def ignored_keys(cfg: DictConfig) -> tuple[str, ...]:
    """The non-identity keys declared by the config (`identity.ignore`), dotted prefixes."""
    declared = OmegaConf.select(cfg, "identity.ignore")
    return DEFAULT_IGNORE if declared is None else tuple(str(k) for k in declared)


def _is_ignored(key: str, ignore: Iterable[str]) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in ignore)


def changed_values(
    flat: Mapping[str, str], defaults: Mapping[str, str], ignore: Sequence[str]
) -> dict[str, str]:
    """The identity keys of `flat` whose value differs from `defaults` (a removed key maps to `~`).

    Args:
        flat: the run's flattened config (`mlrepo.run.config.flatten`).
        defaults: the flattened reference config (the same groups, no value overrides).
        ignore: non-identity dotted prefixes.

    Returns:
        `{dotted key: value}` for every difference.
    """
    out = {k: v for k, v in flat.items() if not _is_ignored(k, ignore) and defaults.get(k) != v}
    out.update({k: "~" for k in defaults if k not in flat and not _is_ignored(k, ignore)})
    return out


def group_choices(overrides: Sequence[str]) -> list[str]:
    """The overrides that pick the pipeline (what the defaults are composed from)."""
    return [o for o in overrides if o.lstrip("+").partition("=")[0] == "pipeline"]


# --- the source the pipeline imports ------------------------------------------------------


def _module_file(module: str, root: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path, root: Path) -> list[str]:
    # A module's package is its folder; a package's `__init__.py` is in its own folder too.
    return list(path.relative_to(root).parts[:-1])


def _imports(path: Path, root: Path) -> set[str]:
    """The module names `path` imports (absolute, relative ones resolved), and their submodules."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(path, root)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def source_files(code: str, root: Path = ROOT) -> list[Path]:
    """Every project file `train/<code>/pipeline.py` imports, transitively, without importing it.

    Parent packages' `__init__.py` count too (Python runs them). Only files under the project
    packages (`mlrepo/`, `datasets/`, `models/`, `train/`) are followed.

    Args:
        code: the pipeline's code folder (`pipeline.code`).
        root: the repository root.

    Returns:
        The files, sorted by path.
    """
    return closure([root / "train" / code / "pipeline.py"], root)


def notebook_imports(path: Path) -> set[str]:
    """The absolute module names a notebook's code cells import (magic and shell lines skipped),
    read as JSON and parsed with `ast`, never run; a cell that does not parse is skipped."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    found: set[str] = set()
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def notebook_sources(notebook: str, root: Path = ROOT) -> list[Path]:
    """A notebook study's code: the notebook itself and every project file its code cells import,
    transitively (read as JSON and parsed, never run).

    Args:
        notebook: the notebook's path from the root (`pipeline.notebook`).
        root: the repository root.

    Returns:
        The files, sorted by path (empty when the notebook does not exist).
    """
    path = root / notebook
    if not path.is_file():
        return []
    starts = []
    for module in sorted(notebook_imports(path)):
        parts = module.split(".")
        starts += [f for d in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:d]), root))]
    return sorted({path, *closure(starts, root)})


def closure(starts: Sequence[Path], root: Path = ROOT, skip: Sequence[str] = ()) -> list[Path]:
    """Every project file the files `starts` import, transitively (statically), with `starts`.

    The scan behind `source_files`, and behind a cached step's code key (`mlrepo.run.steps`).

    Args:
        starts: the files to start from (under `root`).
        root: the repository root.
        skip: dotted module names not followed (the step cache's own machinery).

    Returns:
        The files, sorted by path.
    """
    skipped = {_module_file(name, root) for name in skip} - {None}
    seen: set[Path] = set()
    todo = list(starts)
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for module in _imports(path, root):
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):  # the packages on the way, then the module
                found = _module_file(".".join(parts[:depth]), root)
                if found is not None and found not in seen and found not in skipped:
                    todo.append(found)
    return sorted(seen)


def code_digest(files: Sequence[Path], root: Path = ROOT) -> str:
    """A sha256 over the paths and contents of `files`."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def branch_values(name: str, ignore: Sequence[str], root: Path = ROOT) -> dict[str, str]:
    """The identity values a super-branch's file sets (`data.max_rows`, `train.max_epochs`...).

    The reference "default" config is composed on the development branch, so the values that
    branch sets never show as changed: they enter the uid through this, so that editing the
    branch's cap changes the uid, while its non-identity keys (`tracking`, `logging`...) do not.

    Args:
        name: the super-branch (`branch.name`); `conf/branch/<name>.yaml` is read, not resolved.
        ignore: non-identity dotted prefixes (`identity.ignore`).
        root: the repository root.

    Returns:
        `{dotted key: value}`, empty when the branch has no file.
    """
    path = root / "conf" / "branch" / f"{name}.yaml"
    if not name or not path.is_file():
        return {}
    out: dict[str, str] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif not _is_ignored(prefix, ignore):
            out[prefix] = json.dumps(node, sort_keys=True)

    walk("", OmegaConf.to_container(OmegaConf.load(path), resolve=False))
    return out


def compute(cfg: DictConfig, defaults: DictConfig, root: Path = ROOT) -> Identity:
    """The identity of the run `cfg` describes.

    Args:
        cfg: the composed config of the run.
        defaults: the same pipeline composed without command-line values (the reference that
            says what "default" means: a value written out equal to it changes nothing).
        root: the repository root.

    Returns:
        The identity, with its uid.
    """
    from mlrepo.run.config import flatten

    ignore = ignored_keys(cfg)
    changed = changed_values(flatten(cfg), flatten(defaults), ignore)
    notebook = OmegaConf.select(cfg, "pipeline.notebook", default=None)  # a notebook study (run/notebook.py)
    files = notebook_sources(str(notebook), root) if notebook else source_files(str(cfg.pipeline.code), root)
    # The pipeline's config file holds its defaults: editing one is a change of the code.
    pipeline_yaml = root / "conf" / "pipeline" / f"{cfg.pipeline.name}.yaml"
    defaults_text = (
        json.dumps(OmegaConf.to_container(OmegaConf.load(pipeline_yaml)), sort_keys=True)
        if pipeline_yaml.is_file()
        else ""
    )
    code = code_digest(files, root)
    branch = branch_values(str(OmegaConf.select(cfg, "branch.name", default="")), ignore, root)
    dataset = str(OmegaConf.select(cfg, "data.version", default="") or "")
    payload = json.dumps(
        {
            "pipeline": str(cfg.pipeline.name),
            "changed": changed,
            "dataset": dataset,
            "code": code,
            "defaults": hashlib.sha256(defaults_text.encode()).hexdigest(),
            "branch": branch,
        },
        sort_keys=True,
    )
    return Identity(
        uid=hashlib.sha256(payload.encode()).hexdigest()[:32],
        changed=changed,
        dataset=dataset,
        code=code,
        files=tuple(str(p.relative_to(root)) for p in files),
    )
