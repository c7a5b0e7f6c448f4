"""Versioned dataset tables: Parquet files named `<model-name>_dataset_<version>`, kept by DVC.

A dataset's code materializes a table (`materialize`), a `dvc.yaml` stage makes DVC track
it, and a pipeline reads it (`read`) and logs it as an MLflow dataset input of its run
(`log_input`): name, digest (the DVC hash, an md5 of the file's bytes) and source path, so
any run leads back to its exact data. pandas and MLflow are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlrepo.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlrepo.track.tables")

NAME = re.compile(r"^(?P<model>[a-z][a-z0-9]*)_dataset_(?P<version>v[0-9]+)$")
"""A table's name: `<model-name>_dataset_<version>`, e.g. `cnnv1_dataset_v1`."""
SUFFIX = ".parquet"
"""Every table is one Parquet file, `data/<name>.parquet`."""
DVC_LOCK = "dvc.lock"
META_PREFIX = "mlrepo."
"""Keys of a table's Parquet metadata that the project writes (`mlrepo.run_uid`, `mlrepo.pipeline`)."""
_CHUNK = 1 << 20


def parse_name(name: str) -> tuple[str, str]:
    """Split a table name into `(model-name, version)`.

    Raises:
        UserError: the name does not follow `<model-name>_dataset_<version>`.
    """
    match = NAME.match(name)
    if match is None:
        raise UserError(
            f"Table name '{name}' does not follow <model-name>_dataset_<version>: a lower-case model "
            "name with its version, `_dataset_`, then v<n> (e.g. cnnv1_dataset_v1)."
        )
    return match["model"], match["version"]


def table_name(model: str, version: str) -> str:
    """The name of the table `model` reads in dataset version `version` (`cnnv1`, `v1` → `cnnv1_dataset_v1`).

    Raises:
        UserError: the result would not be a valid table name.
    """
    name = f"{model}_dataset_{version}"
    parse_name(name)
    return name


def path_of(name: str, data_dir: str | Path) -> Path:
    """Where the table `name` lives: `<data_dir>/<name>.parquet`.

    Raises:
        UserError: `name` is not a valid table name.
    """
    parse_name(name)
    return Path(data_dir) / f"{name}{SUFFIX}"


def materialize(
    frame: pd.DataFrame, name: str, data_dir: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write `frame` as the table `name`, byte for byte the same for the same rows and metadata.

    The file is written beside its destination and renamed into place, so a reader (or
    DVC) never sees half a table. The index is not stored.

    Args:
        frame: the table's rows.
        name: the table's name (`<model-name>_dataset_<version>`).
        data_dir: the data folder (`paths.data`).
        metadata: key-value pairs stored in the file's Parquet metadata, each key prefixed
            with `mlrepo.` (e.g. `{"run_uid": ...}`: the identity of the run that made it).

    Returns:
        The table's path.

    Raises:
        UserError: `name` is not a valid table name.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = path_of(name, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if metadata:
            extra = {f"{META_PREFIX}{k}".encode(): str(v).encode() for k, v in sorted(metadata.items())}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        pq.write_table(table, partial, compression="snappy")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    log.info("materialized table %s (%d rows) at %s", name, len(frame), path)
    return path


def read(name: str, data_dir: str | Path) -> pd.DataFrame:
    """Read the table `name` from `data_dir`.

    Raises:
        UserError: the name is invalid.
        FileNotFoundError: the table was never materialized here; the message says how to get it.
    """
    import pandas as pd

    path = path_of(name, data_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"Table {name} is missing ({path}). Materialize it with `make data` (dvc repro), "
            "or fetch the tracked version with `dvc pull`."
        )
    return pd.read_parquet(path)


def metadata_of(path: str | Path) -> dict[str, str]:
    """The project's keys in a table's Parquet metadata, without their `mlrepo.` prefix ({} if none)."""
    import pyarrow.parquet as pq

    found = pq.read_schema(path).metadata or {}
    return {
        k.decode()[len(META_PREFIX) :]: v.decode()
        for k, v in found.items()
        if k.startswith(META_PREFIX.encode())
    }


def profile(frame: pd.DataFrame, top: int = 3) -> dict[str, dict[str, Any]]:
    """A short profile of a table, column by column: dtype, nulls, and min/max or the top values.

    Args:
        frame: the rows.
        top: how many of the most frequent values a non-numeric column shows.

    Returns:
        `{column: {"dtype", "nulls", "min", "max"}}` for numeric columns, `{..., "top": {value: count}}`
        for the others.
    """
    import pandas as pd

    out: dict[str, dict[str, Any]] = {}
    for column in frame.columns:
        values = frame[column]
        entry: dict[str, Any] = {"dtype": str(values.dtype), "nulls": int(values.isna().sum())}
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            entry["min"], entry["max"] = (
                (float(values.min()), float(values.max())) if len(values) else (None, None)
            )
        else:
            entry["top"] = {str(k): int(v) for k, v in values.value_counts().head(top).items()}
        out[str(column)] = entry
    return out


def dvc_hash(path: str | Path) -> str:
    """The hash DVC records for a file: the md5 of its bytes (DVC 3 `hash: md5`)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def locked_hash(path: str | Path, root: str | Path) -> str | None:
    """The md5 that `<root>/dvc.lock` records for the out at `path`, or None when it records none."""
    import yaml

    lock = Path(root) / DVC_LOCK
    if not lock.exists():
        return None
    relative = _relative(Path(path), Path(root))
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages") or {}
    for stage in stages.values():
        for out in stage.get("outs") or []:
            if os.path.normpath(out.get("path", "")) == relative:
                return out.get("md5")
    return None


def _relative(path: Path, root: Path) -> str:
    try:
        return os.path.normpath(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


_REMOTE = re.compile(r"""^\[\s*'remote "(?P<name>[^"]+)"'\s*\]""")
_CORE = re.compile(r"^\[\s*core\s*\]")
_SETTING = re.compile(r"^\s*(?P<key>[a-z_]+)\s*=\s*(?P<value>\S.*?)\s*$")


def dvc_remotes(root: str | Path) -> tuple[str | None, dict[str, str]]:
    """The DVC remotes `.dvc/config` (committed) names: `(default remote, {name: url})`.

    Read as text (DVC's config is INI with quoted section names), so logging a run does not
    import DVC.
    """
    config = Path(root) / ".dvc" / "config"
    default, urls, section = None, {}, None
    if not config.is_file():
        return None, {}
    for line in config.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if match := _REMOTE.match(line):
            section = match["name"]
        elif _CORE.match(line):
            section = ""
        elif (setting := _SETTING.match(line)) and section is not None:
            if section == "" and setting["key"] == "remote":
                default = setting["value"]
            elif section and setting["key"] == "url":
                urls[section] = setting["value"]
    return default, urls


def log_input(
    name: str, frame: pd.DataFrame, path: str | Path, root: str | Path, context: str = "training"
) -> dict[str, Any]:
    """Log the table a run read as an MLflow dataset input of the active run.

    The input's name is the table's, its digest the DVC hash of the file, its source the
    file's path relative to the repository root. When dvc.lock records another hash for that
    path, the table is not the tracked version: the input says so (tag `dvc.status`) and a
    warning is logged, since the run then used data DVC cannot restore.

    Args:
        name: the table's name.
        frame: the rows as read (their schema and row count are logged with the input).
        path: the table's file.
        root: the repository root (where dvc.lock is).
        context: what the run used the table for.

    Returns:
        What was logged: `name`, `digest`, `source`, `dvc_status` (`tracked`, `modified` or
        `untracked`). A table made by a `dataset_` pipeline also tags the input with the
        identity of the run that made it (`producer.run_uid`, `producer.pipeline`). The input
        also says where the table can be pulled from: `dvc.pull` (the command), `dvc.remote`
        (the default remote and its URL) and `dvc.remotes` (every remote `.dvc/config` names).
    """
    import mlflow

    digest = dvc_hash(path)
    source = _relative(Path(path), Path(root))
    locked = locked_hash(path, root)
    status = "untracked" if locked is None else "tracked" if locked == digest else "modified"
    if status != "tracked":
        log.warning(
            "table %s (md5 %s) is %s by dvc.lock: run `make data` and commit dvc.lock, or `dvc pull`",
            name,
            digest,
            "not recorded" if locked is None else f"different from md5 {locked} recorded",
        )
    with warnings.catch_warnings():
        # MLflow registers its local-file source twice and warns that a path is ambiguous.
        warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways.*")
        # ...and hints that integer columns cannot hold missing values: tables are checked when made.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=digest)
        producer = {f"producer.{k}": v for k, v in metadata_of(path).items()}
        default, remotes = dvc_remotes(root)
        where = {"dvc.pull": f"dvc pull {source}"}  # where the table can be pulled from, and how
        if default in remotes:
            where["dvc.remote"] = f"{default} {remotes[default]}"
        if remotes:
            where["dvc.remotes"] = ", ".join(f"{name} {url}" for name, url in remotes.items())
        mlflow.log_input(dataset, context=context, tags={"dvc.status": status, **producer, **where})
    return {"name": name, "digest": digest, "source": source, "dvc_status": status}


def log_output(name: str, frame: pd.DataFrame, path: str | Path, root: str | Path) -> dict[str, Any]:
    """Log the table the active run wrote as its dataset output: name, DVC md5, source, schema, rows.

    MLflow records datasets as run inputs only: the input's context `output` and its tag
    `mlrepo.direction=output` say that this run made the table rather than read it.

    Returns:
        What was logged: `name`, `digest`, `source`.
    """
    import mlflow

    digest = dvc_hash(path)
    source = _relative(Path(path), Path(root))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways.*")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=digest)
        mlflow.log_input(dataset, context="output", tags={"mlrepo.direction": "output", "dvc.md5": digest})
    return {"name": name, "digest": digest, "source": source}
