"""mlrepo.track.tables and the digits tables: the naming rule, materialization, a stable digest, errors."""

import hashlib
import subprocess

import pandas as pd
import pytest
from conftest import PYTHON, ROOT
from digits_support import TABLE, locked_md5, mlflow_store

from datasets.digits.common import PIXELS, SPLIT, SPLITS, TARGET
from datasets.digits.dataset import build_table, materialize_table
from mlrepo.errors import UserError
from mlrepo.track import tables


@pytest.mark.parametrize("name", ["cnnv1_dataset_v1", "irisv2_dataset_v13", "m_dataset_v0"])
def test_valid_table_names_parse(name):
    model, version = tables.parse_name(name)
    assert tables.table_name(model, version) == name


@pytest.mark.parametrize(
    "name",
    ["CNNv1_dataset_v1", "cnnv1_data_v1", "cnnv1_dataset_1", "cnnv1-dataset-v1", "_dataset_v1", "cnnv1"],
)
def test_names_off_the_rule_are_refused_with_the_rule_in_the_message(name, tmp_path):
    with pytest.raises(UserError, match="<model-name>_dataset_<version>"):
        tables.parse_name(name)
    with pytest.raises(UserError):
        tables.materialize(pd.DataFrame({"a": [1]}), name, tmp_path)


def test_materialized_digits_table_stores_every_row_and_its_split(tmp_path):
    path = materialize_table(TABLE, tmp_path)
    assert path == tmp_path / f"{TABLE}.parquet"
    frame = tables.read(TABLE, tmp_path)
    assert list(frame.columns) == [*PIXELS, TARGET, SPLIT]
    assert len(frame) == 1797
    counts = frame[SPLIT].value_counts()
    assert set(counts.index) == set(SPLITS)
    assert counts["train"] == 1257 and counts["validation"] == 270 and counts["test"] == 270
    # Stratified: every digit appears in every split.
    assert frame.groupby(SPLIT)[TARGET].nunique().eq(10).all()
    assert frame[PIXELS].min().min() == 0 and frame[PIXELS].max().max() == 16
    assert not list(tmp_path.glob(".*partial"))  # written beside, then renamed into place


def test_the_digest_is_stable_and_is_the_one_dvc_lock_records(tmp_path):
    first = tables.dvc_hash(materialize_table(TABLE, tmp_path / "a"))
    second = tables.dvc_hash(materialize_table(TABLE, tmp_path / "b"))
    assert first == second
    raw = (tmp_path / "a" / f"{TABLE}.parquet").read_bytes()
    assert first == hashlib.md5(raw).hexdigest()
    assert first == locked_md5(), "dvc.lock is stale: run `make data` and commit dvc.lock"


def test_the_split_is_stored_not_recomputed(tmp_path):
    # Reading returns the stored split even if the version's split would now differ.
    frame = build_table("v1")
    frame.loc[frame.index[:5], SPLIT] = "test"
    tables.materialize(frame, TABLE, tmp_path)
    assert tables.read(TABLE, tmp_path)[SPLIT].head(5).eq("test").all()


def test_reading_a_missing_table_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc pull"):
        tables.read(TABLE, tmp_path)


def test_an_unknown_dataset_version_is_a_user_error():
    with pytest.raises(UserError, match="no version 'v9'"):
        build_table("v9")


def test_the_stage_command_refuses_a_bad_name_without_traceback(tmp_path):
    done = subprocess.run(
        [PYTHON, "-m", "datasets.digits.dataset", "--table", "digits_v1", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "<model-name>_dataset_<version>" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_locked_hash_finds_outs_of_dvc_lock_only(tmp_path):
    assert tables.locked_hash(ROOT / "data" / f"{TABLE}.parquet", ROOT) == locked_md5()
    assert tables.locked_hash(ROOT / "data" / "nope_dataset_v1.parquet", ROOT) is None
    assert tables.locked_hash(tmp_path / "x.parquet", tmp_path) is None  # no dvc.lock there


@pytest.mark.slow
def test_log_input_records_name_dvc_digest_and_source(tracking_uri, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    root = tmp_path / "root"
    path = materialize_table(TABLE, root / "data")
    (root / "dvc.lock").write_text((ROOT / "dvc.lock").read_text())
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text((ROOT / ".dvc" / "config").read_text())
    frame = tables.read(TABLE, root / "data")
    with mlflow_store(tracking_uri), mlflow.start_run() as run:
        logged = tables.log_input(TABLE, frame, path, root)
        tables.materialize(frame.head(10), TABLE, root / "data")  # no longer the tracked version
        changed = tables.log_input(TABLE, frame.head(10), path, root, context="evaluation")
    assert logged == {"name": TABLE, "digest": locked_md5(), "source": f"data/{TABLE}.parquet",
                      "dvc_status": "tracked"}  # fmt: skip
    assert changed["dvc_status"] == "modified" and changed["digest"] != logged["digest"]

    inputs = MlflowClient(tracking_uri).get_run(run.info.run_id).inputs.dataset_inputs
    found = {i.dataset.digest: i for i in inputs}
    first = found[logged["digest"]]
    assert first.dataset.name == TABLE
    assert f"data/{TABLE}.parquet" in first.dataset.source
    tags = {t.key: t.value for t in first.tags}
    assert tags["dvc.status"] == "tracked" and tags["mlflow.data.context"] == "training"
    # Where the table can be pulled from: the command, the default remote, every remote.
    assert tags["dvc.pull"] == f"dvc pull data/{TABLE}.parquet"
    assert tags["dvc.remote"] == "local ../../.dvc-remote"
    assert tags["dvc.remotes"] == "local ../../.dvc-remote, s3 s3://mlrepo-dvc/store"
    assert {t.key: t.value for t in found[changed["digest"]].tags}["dvc.status"] == "modified"
