"""The input contract of a deploy (`mlrepo/ship/records.py`): every MLflow column type, its checks,
the frame the model gets, and the sample input's cross-check. In process, no server."""

import pandas as pd
import pytest

from mlrepo.ship import records

SCHEMA = [("colour", "string"), ("size", "long"), ("ok", "boolean"), ("weight", "double"), ("f", "float")]
GOOD = {"colour": "red", "size": 3, "ok": True, "weight": 2, "f": 1.5}


def test_a_signature_of_named_columns_becomes_the_schema():
    from mlflow.models import infer_signature

    frame = pd.DataFrame({"colour": ["red"], "size": [3], "ok": [True], "weight": [2.5]})
    schema = records.schema_from_signature(infer_signature(frame))
    assert schema == [("colour", "string"), ("size", "long"), ("ok", "boolean"), ("weight", "double")]


def test_tensor_or_missing_signatures_are_refused_with_the_reason():
    import numpy as np
    from mlflow.models import infer_signature

    with pytest.raises(ValueError, match="no signature"):
        records.schema_from_signature(None)
    with pytest.raises(ValueError, match="tensor or unnamed"):
        records.schema_from_signature(infer_signature(np.zeros((2, 3))))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"size": 3.5}, "'size' must be an integer, got 3.5"),
        ({"size": 2**63}, "'size' is out of range for a long"),
        ({"size": True}, "'size' must be an integer"),
        ({"f": 1e39}, "'f' is out of range for a float"),
        ({"weight": 1.7976931348623157e308}, "'weight' is out of range for a double"),  # make fuzz: a 500
        ({"weight": -1e101}, "at most 1e+100 in magnitude"),
        ({"weight": float("nan")}, "'weight' is nan (NaN or infinite)"),
        ({"weight": "2"}, "'weight' must be a number, got str"),
        ({"ok": 1}, "'ok' must be true or false"),
        ({"colour": 7}, "'colour' must be a string, got int"),
        ({"colour": None}, "'colour' is null"),
    ],
)
def test_each_bad_value_is_named_by_its_column(change, message):
    assert message in records.record_problem({**GOOD, **change}, SCHEMA)


def test_good_records_pass_and_become_the_signature_dtypes():
    assert records.check_records([GOOD, {**GOOD, "size": 4.0}], SCHEMA)  # 4.0 is an integer
    assert records.check_records([{**GOOD, "weight": -1e100, "size": 2**63 - 1}], SCHEMA)  # the bounds
    frame = records.to_frame([GOOD, {**GOOD, "weight": 3.25}], SCHEMA)
    assert list(frame.columns) == [c for c, _ in SCHEMA]
    assert [str(t) for t in frame.dtypes[1:]] == ["int64", "bool", "float64", "float32"]
    assert list(frame["weight"]) == [2.0, 3.25]  # an integer sent for a double arrives as a double


def test_record_level_problems_name_the_record():
    with pytest.raises(ValueError, match="record 1: missing column"):
        records.check_records([GOOD, {"colour": "red"}], SCHEMA)
    with pytest.raises(ValueError, match="at most 2 per request"):
        records.check_records([GOOD] * 3, SCHEMA, limit=2)
    with pytest.raises(ValueError, match="empty list"):
        records.check_records([], SCHEMA)


def test_the_sample_input_is_checked_against_the_schema():
    sample = pd.DataFrame({"colour": ["red"], "size": ["3"], "ok": ["true"], "weight": ["2.5"], "f": ["1"]})
    records.check_sample(SCHEMA, sample)
    with pytest.raises(ValueError, match="missing f"):
        records.check_sample(SCHEMA, sample.drop(columns="f"))
    with pytest.raises(ValueError, match="row 1 does not fit.*'size' must be an integer"):
        records.check_sample(SCHEMA, sample.assign(size="big"))
