"""A deploy's input contract: the record schema taken from a logged model's signature, and the
checks that turn a client's records into the frame the model expects.

Plain Python (pandas imported inside the functions that build frames): this module travels
inside every Bento, next to `mlrepo/ship/serving.py`, and also serves `python -m mlrepo.ship.deploy`.

A schema is a list of `(column, type)` pairs in the signature's order, with MLflow's column
types (`double`, `float`, `long`, `integer`, `boolean`, `string`, `datetime`). JSON values are
coerced as the signature says: an integer where a double is expected is accepted; a bool, a
string, null, NaN/Infinity, a nested value or a number out of the type's range is refused
with a message that names the record and the column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Schema = list[tuple[str, str]]
"""`[(column, MLflow column type), ...]` in the signature's order."""

Categories = Mapping[str, Sequence[str]]
"""`{column: allowed values}`: the string columns served as an enumeration (see `MAX_CATEGORIES`)."""

MAX_CATEGORIES = 50
"""A string column with at most this many distinct values in the training table is categorical:
its values are the contract (an enumeration in the OpenAPI schema, a `<select>` on the try-it page,
an unseen value a 400). A column with more (names, free text) is served as any string."""

CATEGORIES_ARTIFACT = "contract/categories.json"
"""Where a run logs its categorical columns' values (`mlrepo.track.tracking.log_categories`)."""

MAX_RECORDS = 1000
"""The most records one request may hold."""

KINDS = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "string",
}
"""What a JSON client sends for each MLflow column type."""

DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
    "datetime": "datetime64[ns]",
}
"""The pandas dtype each MLflow column type becomes in the frame given to the model."""

MAX_MAGNITUDE = 1e100
"""The largest magnitude a floating-point column accepts. A double holds up to 1.8e308, but a
value near that overflows the first arithmetic a model does on it (a scaler's `(x - mean) / std`
became infinity and scikit-learn refused the frame: a 500, found by `make fuzz`); 1e100 leaves
room for any product or square a model computes, and no measurement is that large."""

_LIMITS = {
    "double": MAX_MAGNITUDE,
    "float": 1e38,  # float32 holds 3.4e38
    "long": 2**63 - 1,
    "integer": 2**31 - 1,
}


def limit(kind: str) -> float | int | None:
    """The largest magnitude a column of MLflow type `kind` accepts (None: not a number)."""
    return _LIMITS.get(kind)


def schema_from_signature(signature: Any) -> Schema:
    """The record schema of an MLflow model signature (column-based inputs only).

    Args:
        signature: an `mlflow.models.ModelSignature`, or None.

    Returns:
        `[(column, type), ...]`.

    Raises:
        ValueError: the model has no signature, or its inputs are tensors or unnamed columns.
    """
    if signature is None or signature.inputs is None:
        raise ValueError("the logged model has no signature; log it with an input example")
    if not signature.inputs.has_input_names() or signature.inputs.is_tensor_spec():
        raise ValueError(
            "the model's signature has tensor or unnamed inputs; a record service needs named "
            "columns (log the model with a DataFrame input example)"
        )
    schema = []
    for spec in signature.inputs.inputs:
        kind = str(getattr(spec.type, "name", spec.type))
        if kind not in KINDS:
            raise ValueError(f"column '{spec.name}' has type {kind}, which a JSON record cannot carry")
        schema.append((spec.name, kind))
    return schema


def value_problem(column: str, kind: str, value: Any) -> str | None:
    """Say what is wrong with one value for a column of MLflow type `kind`, or None when it fits."""
    expected = KINDS[kind]
    article = "an" if expected == "integer" else "a"
    if value is None:
        return f"column '{column}' is null (missing value); {article} {expected} is required"
    if expected in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"column '{column}' must be {article} {expected}, got {type(value).__name__} {value!r:.40}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"column '{column}' is {value} (NaN or infinite); a finite {expected} is required"
        if expected == "integer" and isinstance(value, float) and not value.is_integer():
            return f"column '{column}' must be an integer, got {value}"
        if abs(value) > _LIMITS[kind]:
            digits = len(str(int(abs(value))))
            bound = f"{_LIMITS[kind]:g}" if expected == "number" else str(_LIMITS[kind])
            return (
                f"column '{column}' is out of range for a {kind} ({digits}-digit number; "
                f"at most {bound} in magnitude)"
            )
    elif expected == "boolean" and not isinstance(value, bool):
        return f"column '{column}' must be true or false, got {value!r:.40}"
    elif expected == "string" and not isinstance(value, str):
        return f"column '{column}' must be a string, got {type(value).__name__} {value!r:.40}"
    return None


def category_problem(column: str, value: Any, allowed: Sequence[str]) -> str | None:
    """Say why `value` is not one of a categorical column's `allowed` values, or None when it is."""
    if value in allowed:
        return None
    shown = ", ".join(repr(v) for v in allowed[:MAX_CATEGORIES])
    return f"column '{column}' is {value!r:.60}, a value the model was not trained on; allowed: {shown}"


def categories_of(frame: Any, limit: int = MAX_CATEGORIES) -> dict[str, list[str]]:
    """The categorical columns of a training table: each string (or pandas category) column with at
    most `limit` distinct values, and those values sorted. Missing values are not values."""
    import pandas as pd

    found = {}
    for column in frame.columns:
        series = frame[column]
        if not (pd.api.types.is_string_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)):
            continue
        values = series.dropna().unique()
        if 0 < len(values) <= limit and all(isinstance(v, str) for v in values):
            found[str(column)] = sorted(str(v) for v in values)
    return found


def record_problem(record: Any, schema: Schema, categories: Categories | None = None) -> str | None:
    """Say what is wrong with one record (a missing or extra column, a bad value, a value of a
    categorical column outside its `categories`), or None."""
    columns = [column for column, _ in schema]
    if not isinstance(record, Mapping):
        return f"a record must be a JSON object of {len(columns)} columns, got {type(record).__name__}"
    missing = [c for c in columns if c not in record]
    if missing:
        return f"missing column(s) {', '.join(map(repr, missing))}; expected {', '.join(columns)}"
    extra = [str(c) for c in record if c not in columns]
    if extra:
        return f"unexpected column(s) {', '.join(map(repr, extra))}; expected {', '.join(columns)}"
    for column, kind in schema:
        problem = value_problem(column, kind, record[column])
        if problem is None and categories and column in categories:
            problem = category_problem(column, record[column], categories[column])
        if problem:
            return problem
    return None


def check_records(
    records: Any, schema: Schema, limit: int = MAX_RECORDS, categories: Categories | None = None
) -> list[Mapping]:
    """Check a request's records against the schema; return them, or raise on the first problem.

    Args:
        records: what the client sent as `records`: a list of JSON objects.
        schema: the record schema.
        limit: the most records accepted at once.
        categories: the allowed values of the categorical columns (none checked when None).

    Returns:
        The records, unchanged.

    Raises:
        ValueError: not a non-empty list, too many, or a record that does not fit; the message
            names the record (0-based) and the problem.
    """
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise ValueError(f"'records' must be a list of JSON objects, got {type(records).__name__}")
    if not records:
        raise ValueError("'records' is an empty list; send at least one record")
    if len(records) > limit:
        raise ValueError(f"'records' holds {len(records)} records; at most {limit} per request")
    for index, record in enumerate(records):
        problem = record_problem(record, schema, categories)
        if problem:
            raise ValueError(f"record {index}: {problem}")
    return list(records)


def to_frame(records: Iterable[Mapping], schema: Schema) -> Any:
    """The checked records as the DataFrame the model expects: the signature's column order and
    dtypes (so an integer sent for a double column reaches the model as a double).

    Built column by column from typed arrays: several times faster than `from_records` and
    `astype` for the small frames a service sees.
    """
    import numpy as np
    import pandas as pd

    rows = records if isinstance(records, list) else list(records)
    return pd.DataFrame(
        {column: np.array([row[column] for row in rows], dtype=DTYPES[kind]) for column, kind in schema},
        copy=False,
    )


def parse_cell(text: str, kind: str) -> Any:
    """Turn one CSV cell into the value a column of MLflow type `kind` expects.

    An empty cell becomes None; a cell that cannot be read as its kind is returned as the text,
    so that `record_problem` names it.
    """
    text = text.strip()
    if text == "":
        return None
    expected = KINDS[kind]
    try:
        if expected == "number":
            return float(text)
        if expected == "integer":
            return int(text)
    except ValueError:
        return text
    if expected == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def check_sample(schema: Schema, sample: Any, categories: Categories | None = None) -> None:
    """Check that a deploy's sample input fits the model's schema: the same columns, in any
    order, and every value readable as its column's type.

    Args:
        schema: the record schema from the model's signature.
        sample: the deploy's `sample-input.csv` read as strings (a DataFrame, `dtype=str`).

    Raises:
        ValueError: a missing or extra column, or a value of the wrong type (named by row).
    """
    columns = [column for column, _ in schema]
    missing = [c for c in columns if c not in sample.columns]
    extra = [c for c in sample.columns if c not in columns]
    if missing or extra:
        raise ValueError(
            f"sample-input.csv has columns {', '.join(sample.columns)} but the model's signature "
            f"has {', '.join(f'{c} ({k})' for c, k in schema)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; not in the signature {', '.join(extra)}" if extra else "")
        )
    for row, cells in enumerate(sample.to_dict("records"), start=1):
        record = {c: parse_cell(str(cells[c]), kind) for c, kind in schema}
        problem = record_problem(record, schema, categories)
        if problem:
            raise ValueError(f"sample-input.csv row {row} does not fit the model's signature: {problem}")
