"""Names and input checks shared by the IrisClassifier V1 service, its import and batch prediction.

Plain Python and pandas only: this file travels inside the Bento and, pickled by value, inside
the BentoML model's custom objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MODEL_NAME = "iris_classifier"
"""The name of the model in the BentoML model store (and of the Bento)."""

PIPELINE = "train_iris"
"""The training pipeline whose runs this deploy serves."""

SAMPLE_INPUT = Path(__file__).resolve().with_name("sample-input.csv")
"""A few real input rows: their columns and dtypes are the service's input schema."""

MAX_RECORDS = 1000
"""The most records one request may hold."""

_KINDS = {"f": "number", "i": "integer", "b": "boolean", "O": "string", "U": "string", "T": "string"}


def read_schema(path: Path = SAMPLE_INPUT) -> dict[str, str]:
    """The input schema: each column of the sample input with the kind of value it holds.

    Args:
        path: a CSV of real input rows.

    Returns:
        `{column: kind}` with kind `number`, `integer`, `boolean` or `string`, in column order.
    """
    import pandas as pd

    frame = pd.read_csv(path)
    return {str(col): _KINDS.get(dtype.kind, "string") for col, dtype in frame.dtypes.items()}


def _value_problem(column: str, kind: str, value: Any) -> str | None:
    if value is None:
        return f"column '{column}' is null (missing value); a {kind} is required"
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"column '{column}' must be a {kind}, got {type(value).__name__} {value!r:.40}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"column '{column}' is {value} (NaN or infinite); a finite {kind} is required"
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            return f"column '{column}' must be an integer, got {value}"
    elif kind == "boolean" and not isinstance(value, bool):
        return f"column '{column}' must be true or false, got {value!r:.40}"
    elif kind == "string" and not isinstance(value, str):
        return f"column '{column}' must be a string, got {value!r:.40}"
    return None


def record_problem(record: Any, schema: Mapping[str, str]) -> str | None:
    """Say what is wrong with one input record, or None when it fits the schema.

    Args:
        record: one record, a mapping of column name to value.
        schema: the input schema (see `read_schema`).

    Returns:
        A message naming the first problem found (a missing or extra column, a wrong type,
        a null or NaN value), or None.
    """
    if not isinstance(record, Mapping):
        return f"a record must be a JSON object of {len(schema)} columns, got {type(record).__name__}"
    missing = [c for c in schema if c not in record]
    if missing:
        return f"missing column(s) {', '.join(map(repr, missing))}; expected {', '.join(schema)}"
    extra = [str(c) for c in record if c not in schema]
    if extra:
        return f"unexpected column(s) {', '.join(map(repr, extra))}; expected {', '.join(schema)}"
    for column, kind in schema.items():
        problem = _value_problem(column, kind, record[column])
        if problem:
            return problem
    return None


def check_records(records: Any, schema: Mapping[str, str], limit: int = MAX_RECORDS) -> list[dict]:
    """Check a request's records against the schema; return them, or raise on the first problem.

    Args:
        records: what the client sent as `records`: a list of JSON objects.
        schema: the input schema (see `read_schema`).
        limit: the most records accepted at once.

    Returns:
        The records, unchanged.

    Raises:
        ValueError: the records are not a non-empty list, too many, or one does not fit the schema;
            the message names the record (0-based) and the problem.
    """
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise ValueError(f"'records' must be a list of JSON objects, got {type(records).__name__}")
    if not records:
        raise ValueError("'records' is an empty list; send at least one record")
    if len(records) > limit:
        raise ValueError(f"'records' holds {len(records)} records; at most {limit} per request")
    for index, record in enumerate(records):
        problem = record_problem(record, schema)
        if problem:
            raise ValueError(f"record {index}: {problem}")
    return list(records)
