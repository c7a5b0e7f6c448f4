"""Rules on data: dataset tables are named `<model-name>_dataset_<version>`; no raw data in git."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator

from mlrepo.checks.base import Repo, Rule, Violation, line_of

TABLE_NAME = Rule(
    "TABLE-NAME",
    "dataset tables (dvc.yaml outs and files under data/) are named <model-name>_dataset_<version>",
    "rename the table, e.g. data/cnnv1_dataset_v1.parquet (lower case model name, `_dataset_`, v<n>)",
)
RAW_DATA = Rule(
    "RAW-DATA",
    "no data files (csv, parquet, images, npy...) under data/ or over the size limit in git",
    "track it with DVC (`dvc add` or a dvc.yaml out) and `git rm --cached` it, or, if it truly belongs "
    "in git, add it to data.allow in conf/governance.yaml",
)
RULES = (TABLE_NAME, RAW_DATA)
"""The rules of this family."""

TABLE = re.compile(r"^[a-z][a-z0-9]*_dataset_v[0-9]+$")
"""`<model-name>_dataset_<version>`, e.g. `cnnv1_dataset_v1`."""
_META = {".gitignore", ".gitkeep", ".keep", "README.md"}


def table_of(name: str) -> str:
    """The table a data/ entry holds: its name without extensions (`x.parquet.dvc` → `x`)."""
    return name.split(".", 1)[0]


def dvc_outs(repo: Repo) -> dict[str, tuple[str, int]]:
    """Every out declared in a dvc.yaml, relative to the root, with the dvc.yaml and line declaring it."""
    outs: dict[str, tuple[str, int]] = {}
    for path in repo.files:
        if path != "dvc.yaml" and not path.endswith("/dvc.yaml"):
            continue
        data = repo.yaml(path)
        base = path[: -len("dvc.yaml")]
        text = repo.text(path)
        stages = (data or {}).get("stages") if isinstance(data, dict) else None
        for stage in (stages or {}).values():
            if not isinstance(stage, dict):
                continue
            wdir = stage.get("wdir", ".")
            for out in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
                name = next(iter(out)) if isinstance(out, dict) else str(out)
                full = os.path.normpath(os.path.join(base, wdir, name)).replace(os.sep, "/")
                outs[full] = (path, line_of(text, name))
    return outs


def check(repo: Repo) -> Iterator[Violation]:
    """Check table names and refuse raw data in git."""
    outs = dvc_outs(repo)
    for out, (where, line) in sorted(outs.items()):
        if out.startswith("data/"):
            table = table_of(out[len("data/") :].split("/", 1)[0])
            if not TABLE.match(table):
                yield Violation(
                    where,
                    line,
                    TABLE_NAME.id,
                    f"table `{table}` ({out}) is not <model-name>_dataset_<version>",
                )
    data_dir = repo.root / "data"
    if data_dir.is_dir():
        for entry in sorted(os.listdir(data_dir)):
            if entry in _META or entry.startswith("."):
                continue
            if not TABLE.match(table_of(entry)):
                yield Violation(
                    f"data/{entry}",
                    1,
                    TABLE_NAME.id,
                    f"`{table_of(entry)}` is not <model-name>_dataset_<version>",
                )
    yield from _raw_data(repo, outs)


def _raw_data(repo: Repo, outs: dict[str, tuple[str, int]]) -> Iterator[Violation]:
    settings = repo.settings["data"]
    extensions = {"." + ext.lower().lstrip(".") for ext in settings["extensions"]}
    limit = int(settings["max_kb"]) * 1024
    allow = list(settings["allow"])
    tracked_by_dvc = set(outs) | {p[: -len(".dvc")] for p in repo.files if p.endswith(".dvc")}
    for path in repo.files:
        name = path.rsplit("/", 1)[-1]
        suffix = os.path.splitext(name)[1].lower()
        under_data = path.startswith("data/")
        if name.endswith(".dvc") or (under_data and name in _META):
            continue
        is_data = suffix in extensions
        size = (repo.root / path).stat().st_size
        if not (under_data or is_data or size > limit):
            continue
        if any(fnmatch.fnmatch(path, pattern) for pattern in allow):
            continue
        if any(path == out or path.startswith(out + "/") for out in tracked_by_dvc):
            continue
        why = "under data/" if under_data else f"a {suffix} data file" if is_data else f"{size // 1024} KB"
        yield Violation(path, 1, RAW_DATA.id, f"{why} in git (limit {limit // 1024} KB, DVC keeps data)")
