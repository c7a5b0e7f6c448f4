"""Rules on data: dataset tables are named `<model-name>_dataset_<version>`; no raw data in git."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterator

from mlrepo.govern.checks.base import Repo, Rule, Violation, line_of

TABLE_NAME = Rule(
    "TABLE-NAME",
    "dataset tables (dvc.yaml outs, files under data/, a pipeline config's data.table) are named "
    "<model-name>_dataset_<version>",
    "rename the table, e.g. data/cnnv1_dataset_v1.parquet (lower case model name, `_dataset_`, v<n>)",
)
RAW_DATA = Rule(
    "RAW-DATA",
    "no data in git: data files (by extension or by their bytes: delimited text, JSON lines, JSON arrays "
    "and YAML lists of records, Parquet, NumPy, pickle, HDF5, large images), DVC outputs, files under "
    "data/ or over the size limit",
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
    """Check table names (dvc.yaml outs, data/, pipeline configs) and refuse data in git."""
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
    for entry in repo.folder("data"):
        if entry in _META or entry.startswith("."):
            continue
        if not TABLE.match(table_of(entry)):
            yield Violation(
                f"data/{entry}",
                1,
                TABLE_NAME.id,
                f"`{table_of(entry)}` is not <model-name>_dataset_<version>",
            )
    yield from _config_tables(repo)
    yield from _raw_data(repo, outs)


def _config_tables(repo: Repo) -> Iterator[Violation]:
    for path in repo.files:
        if not (path.startswith("conf/pipeline/") and path.endswith(".yaml")):
            continue
        text = repo.text(path)
        if "table" not in text:
            continue
        loaded = repo.yaml(path)
        section = loaded.get("data") if isinstance(loaded, dict) else None
        for key, value in (section or {}).items() if isinstance(section, dict) else ():
            if (key == "table" or str(key).endswith("_table")) and isinstance(value, str):
                table = table_of(value.rsplit("/", 1)[-1])
                if not TABLE.match(table):
                    yield Violation(
                        path,
                        line_of(text, f"{key}:"),
                        TABLE_NAME.id,
                        f"`data.{key}: {value}`: `{table}` is not <model-name>_dataset_<version>",
                    )


# --- data known by its bytes ----------------------------------------------------------------

_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"\x93NUMPY", "a NumPy array"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"Obj\x01", "an Avro file"),
    (b"ORC", "an ORC file"),
    (b"PK\x03\x04", "a ZIP archive (npz, xlsx...)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_CODE = {
    ".py", ".pyi", ".sh", ".js", ".css", ".html", ".jinja2", ".cfg", ".ini", ".toml", ".mk", ".lock",
    ".dvc", ".svg", ".xml",
}  # fmt: skip
"""Code and tool formats whose lines may look tabular by chance: only their magic bytes are sniffed."""
_PROSE = {".md", ".rst"}
"""Documents whose `|` tables and `- key: value` bullets are prose: commas, tabs and JSON still count."""
_NO_SNIFF = {"Makefile", "Pipfile", "CODEOWNERS", "Dockerfile", ".gitignore", ".dvcignore"}
TEXT_BYTES = 64 * 1024
"""How much of a text file the shape tests read (a JSON or YAML document is parsed from it)."""
MIN_ROWS = 3
"""Default `data.min_rows`: rows of one shape that make text a table (a CSV header counts)."""
NESTED_ROWS = 20
"""Default `data.nested_rows`: records inside a JSON/YAML document that make it data."""


def sniff(
    name: str,
    head: bytes,
    size: int,
    image_kb: int = 64,
    min_rows: int = MIN_ROWS,
    nested_rows: int = NESTED_ROWS,
    text: bool = True,
) -> str | None:
    """What kind of data a file holds, judged by its first bytes whatever its name; None for code/text.

    Binary formats are known by their magic bytes. Text is data by its shape, whatever its
    extension: delimited rows (CSV, TSV, `;`, `|`), JSON lines, or a JSON/YAML list of records
    (objects with the same keys and plain values, or rows of equal length) at the top of the
    document (`min_rows` of them) or inside it (`nested_rows`). Code files are only sniffed for
    magic bytes; Markdown's `|` tables and bullet lists are prose.

    Args:
        name: the file's name (only to spare source files the text tests).
        head: its first bytes (4 KiB is plenty for binary formats; `TEXT_BYTES` for documents).
        size: its size in bytes (images count as data above `image_kb`).
        image_kb: the size above which an image is data.
        min_rows: rows of one shape that make text (a file, or a document's top-level list) a table.
        nested_rows: records inside a JSON/YAML document that make it data.
        text: whether the text tests run (False: magic bytes only, for `data.structured` files).

    Returns:
        `"a Parquet file"`, `"CSV-like text"`, `"a JSON array of records"`... or None.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    for magic, kind in _IMAGES:
        if head.startswith(magic):
            return f"a {kind} image of {size // 1024} KB" if size > image_kb * 1024 else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and size > image_kb * 1024:
        return f"a WEBP image of {size // 1024} KB"
    if len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle"
    base = name.rsplit("/", 1)[-1]
    suffix = os.path.splitext(base)[1].lower()
    if not text or base in _NO_SNIFF or suffix in _CODE or b"\0" in head:
        return None
    decoded = head.decode("utf-8", errors="replace")
    truncated = size > len(head)
    return (
        _json_lines(decoded, truncated, min_rows)
        or _json_records(decoded, min_rows, nested_rows)
        or (None if suffix in _PROSE else _yaml_records(decoded, truncated, min_rows, nested_rows))
        or _tabular(decoded, truncated, min_rows, pipes=suffix not in _PROSE)
    )


def _complete_lines(text: str, truncated: bool) -> list[str]:
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[:-1]  # cut in the middle
    return [line for line in lines[:60] if line.strip()]


def _json_lines(text: str, truncated: bool, min_rows: int) -> str | None:
    lines = [line.strip() for line in _complete_lines(text, truncated)]
    if len(lines) < max(min_rows, 2):
        return None
    if all(line.startswith("{") and line.endswith("}") for line in lines):
        return "JSON lines"
    if all(line.startswith("[") and line.endswith("]") for line in lines):
        try:
            rows = [json.loads(line) for line in lines]
        except ValueError:
            return None
        return "JSON lines" if len({_row_shape(r) for r in rows} - {None}) == 1 else None
    return None


def _row_shape(value: object) -> tuple[str, object] | None:
    """The shape of a table row: a record's keys, or a list's length; None for anything else."""
    plain = (str, int, float, bool, type(None))
    if isinstance(value, dict) and len(value) >= 2 and all(isinstance(v, plain) for v in value.values()):
        return ("record", frozenset(map(str, value)))
    if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, plain) for v in value):
        return ("row", len(value))
    return None


_ARRAY_OF_ROWS = re.compile(r"\[\s*(?=[\[{])")
_COMMA = re.compile(r"\s*,\s*")


def _json_records(text: str, min_rows: int, nested_rows: int) -> str | None:
    """A JSON list of rows (top-level or nested), decoded row by row: a cut-off document still counts."""
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] not in ("[", "{"):
        return None
    decoder = json.JSONDecoder()
    for match in _ARRAY_OF_ROWS.finditer(text):
        top = match.start() == start
        need = min_rows if top else nested_rows
        count, shape, at = 0, None, match.end()
        while count < need:
            try:
                row, end = decoder.raw_decode(text, at)
            except ValueError:
                break
            if _row_shape(row) is None or (shape is not None and _row_shape(row) != shape):
                break
            shape, count = _row_shape(row), count + 1
            comma = _COMMA.match(text, end)
            if comma is None:
                break
            at = comma.end()
        if count >= need:
            return f"a JSON array of {'records' if shape[0] == 'record' else 'rows'}"
    return None


def _yaml_records(text: str, truncated: bool, min_rows: int, nested_rows: int) -> str | None:
    """A YAML list of records (top-level, or in a mapping), parsed from the complete items of the text."""
    import yaml

    if not re.search(r"^\s*- ", text, flags=re.MULTILINE):
        return None
    if truncated:  # keep the items that are whole: cut before the last one that starts
        items = [m.start() for m in re.finditer(r"^\s*- ", text, flags=re.MULTILINE)]
        text = text[: items[-1]] if len(items) > 1 else ""
    try:
        loaded = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if isinstance(loaded, list):
        return "a YAML list of records" if _rows(loaded) >= min_rows else None
    todo, depth = [loaded], 0
    while todo and depth < 4:
        nested = []
        for node in todo:
            values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
            for value in values:
                if isinstance(value, list) and _rows(value) >= nested_rows:
                    return "a YAML list of records"
                nested.append(value)
        todo, depth = nested, depth + 1
    return None


def _rows(items: list) -> int:
    """How many items of `items`, from the first, are table rows of one shape."""
    shapes = [_row_shape(item) for item in items]
    if not shapes or shapes[0] is None:
        return 0
    return next((i for i, shape in enumerate(shapes) if shape != shapes[0]), len(shapes))


def _tabular(text: str, truncated: bool, min_rows: int = MIN_ROWS, pipes: bool = True) -> str | None:
    lines = _complete_lines(text, truncated)
    if len(lines) < max(min_rows, 2):
        return None
    stripped = [line.strip() for line in lines]
    if all(line.startswith("{") and line.endswith("}") for line in stripped):
        return "JSON lines"
    if sum(any(c.isdigit() for c in line) for line in lines[1:]) * 2 < len(lines) - 1:
        return None
    delimiters = ((",", "CSV"), ("\t", "TSV"), (";", "CSV (;)")) + (
        (("|", "delimited (|)"),) if pipes else ()
    )
    for delimiter, kind in delimiters:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() >= 1 and not lines[-1].startswith("\t"):
            return f"{kind}-like text"
    return None


def structured(path: str, settings: dict) -> bool:
    """Whether `path` is a structured file the repository needs (`data.structured`): not data by its text."""
    return any(fnmatch.fnmatch(path, str(pattern)) for pattern in settings.get("structured") or ())


def allowance(path: str, settings: dict) -> tuple[bool, int]:
    """Whether the allow-list names `path` (data may be in git), and the size limit in bytes for it.

    An allow-list entry is a glob, or `{path: GLOB, max_kb: N}` to give its files a limit of their
    own; every other file has `data.max_kb`.
    """
    limit = int(settings["max_kb"])
    for entry in settings["allow"]:
        pattern = entry.get("path", "") if isinstance(entry, dict) else str(entry)
        if fnmatch.fnmatch(path, pattern):
            own = entry.get("max_kb", limit) if isinstance(entry, dict) else limit
            return True, int(own) * 1024
    return False, limit * 1024


def data_problem(path: str, head: bytes, size: int, settings: dict) -> str | None:
    """Why a file may not be in git (data by its extension or bytes, over the size limit); None if it may.

    Args:
        path: the file, relative to the root.
        head: its first bytes.
        size: its size in bytes.
        settings: the `data` section of the rules' data.
    """
    allowed, limit = allowance(path, settings)
    if size > limit:
        return f"{size // 1024} KB, over the {limit // 1024} KB limit,"
    if allowed:
        return None
    name = path.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    extensions = {"." + ext.lower().lstrip(".") for ext in settings["extensions"]}
    if suffix in extensions:
        return f"a {suffix} data file"
    kind = sniff(
        name,
        head,
        size,
        int(settings.get("image_kb", 64)),
        int(settings.get("min_rows", MIN_ROWS)),
        int(settings.get("nested_rows", NESTED_ROWS)),
        text=not structured(path, settings),  # the repository's own configs: only their magic bytes
    )
    return f"{kind} (known by its bytes)" if kind else None


def _raw_data(repo: Repo, outs: dict[str, tuple[str, int]]) -> Iterator[Violation]:
    settings = repo.settings["data"]
    limit_kb = int(settings["max_kb"])
    pointers = {p[: -len(".dvc")] for p in repo.files if p.endswith(".dvc")}
    tracked_by_dvc = set(outs) | pointers
    prefixes = tuple(out + "/" for out in tracked_by_dvc)
    for path in repo.files:
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".dvc") or (path.startswith("data/") and name in _META):
            continue
        if path in tracked_by_dvc or path.startswith(prefixes):
            yield Violation(
                path, 1, RAW_DATA.id, "a DVC output is in git (DVC keeps it; `git rm --cached` it)"
            )
            continue
        if path.startswith("data/"):
            yield Violation(path, 1, RAW_DATA.id, f"under data/ in git (limit {limit_kb} KB, DVC keeps data)")
            continue
        if name.endswith(".py"):  # source: its size only (a binary named .py fails PARSE)
            size = repo.size(path)
            problem = data_problem(path, b"", size, settings) if size > limit_kb * 1024 else None
        else:
            problem = data_problem(path, repo.head(path, TEXT_BYTES), repo.size(path), settings)
        if problem:
            yield Violation(path, 1, RAW_DATA.id, f"{problem} in git (DVC keeps data)")
