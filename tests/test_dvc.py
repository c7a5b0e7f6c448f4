"""DVC keeps the dataset tables: `dvc repro` redoes only what changed; push, delete, pull: same bytes.

The stage runs the `dataset_digits` pipeline (`python -m train`), into the copy's own store.

Every test works in a copy of the repository with its own temporary remote, never in the repository.
"""

import pytest
from digits_support import TABLE_PATH, dvc, dvc_repo_copy, locked_md5

from mlrepo.track import tables

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A DVC-enabled copy whose table has been materialized once by `dvc repro`."""
    base = tmp_path_factory.mktemp("dvc")
    repo = dvc_repo_copy(base / "repo", base / "remote")
    done = dvc("repro", cwd=repo)
    assert "Running stage 'cnnv1_dataset_v1'" in done.stdout
    return repo


def test_repro_materializes_the_table_dvc_lock_records(copy):
    assert tables.dvc_hash(copy / TABLE_PATH) == locked_md5(copy) == locked_md5()
    assert "up to date" in dvc("status", cwd=copy).stdout


def test_a_second_repro_is_a_no_op(copy):
    path = copy / TABLE_PATH
    before = (path.stat().st_mtime_ns, (copy / "dvc.lock").read_bytes())
    done = dvc("repro", cwd=copy)
    assert "didn't change, skipping" in done.stdout
    assert "Running stage" not in done.stdout
    assert (path.stat().st_mtime_ns, (copy / "dvc.lock").read_bytes()) == before


def test_push_delete_pull_restores_identical_bytes(copy):
    path = copy / TABLE_PATH
    original = path.read_bytes()
    dvc("push", cwd=copy)
    remote_files = [p for p in (copy.parent / "remote").rglob("*") if p.is_file()]
    assert remote_files, "dvc push wrote nothing to the temporary remote"
    path.unlink()
    # Without the local cache too, so the bytes can only come from the remote.
    dvc("gc", "--workspace", "--force", cwd=copy)
    for cached in (copy / ".dvc" / "cache").rglob("*"):
        if cached.is_file():
            cached.unlink()
    dvc("pull", cwd=copy)
    assert path.read_bytes() == original
    assert tables.dvc_hash(path) == locked_md5(copy)


def test_repro_redoes_a_stage_whose_code_changed(copy):
    common = copy / "datasets" / "digits" / "common.py"
    common.write_text(common.read_text() + "\n# an edit that does not change the data\n")
    before = tables.read("cnnv1_dataset_v1", copy / "data")
    done = dvc("repro", cwd=copy)
    assert "Running stage 'cnnv1_dataset_v1'" in done.stdout
    # Same rows; the table's metadata names the new code's run.uid, so the md5 moves with it.
    assert tables.read("cnnv1_dataset_v1", copy / "data").equals(before)
    assert tables.dvc_hash(copy / TABLE_PATH) == locked_md5(copy) != locked_md5()
    assert "didn't change, skipping" in dvc("repro", cwd=copy).stdout
