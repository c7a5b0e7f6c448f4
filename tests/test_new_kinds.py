"""The estudy_ and dataset_ pipelines `new pipeline` writes run FINISHED as generated (their one
placeholder filled), and `make data` builds a dataset_ pipeline's table to the md5 dvc.lock then
records, which the dataset's `materialize_table` (a training pipeline's fallback) reproduces."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import runs, train
from test_new_acceptance import REGRESSION_EDITS, clone_with_venv, mlrepo, write_edits

pytestmark = pytest.mark.slow


def _make(repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", *args], cwd=repo,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_generated_study_and_dataset_pipelines_run_and_match_dvc_lock(tmp_path, tracking_uri):
    repo = clone_with_venv(tmp_path / "clone")
    for args in (("dataset", "estate"), ("model", "EstateModel")):
        assert mlrepo(repo, "new", *args).returncode == 0
    write_edits(repo, REGRESSION_EDITS)
    for args in (("gbv1-estatev1", "--model", "EstateModel", "--dataset", "estate"),
                 ("estudy_estate", "--of", "gbv1-estatev1"),
                 ("dataset_estate", "--dataset", "estate", "--table", "gbv2_dataset_v1")):  # fmt: skip
        done = mlrepo(repo, "new", "pipeline", *args)
        assert done.returncode == 0, done.stderr
    for code in ("estudy_estate", "dataset_estate"):  # the one placeholder of each
        path = repo / "train" / code / "pipeline.py"
        path.write_text(path.read_text().replace("TODO: say what this study asks", "how well it prices")
                        .replace("TODO: say what this version holds", "the 400 sales, shuffled"))  # fmt: skip
    assert mlrepo(repo, "diagrams").returncode == 0
    checked = _make(repo, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    assert train("pipeline=gbv1-estatev1", cwd=repo).returncode == 0
    studied = train("pipeline=estudy_estate", cwd=repo)
    assert studied.returncode == 0, studied.stderr[-3000:]
    (study,) = runs(tracking_uri, "estudy_estate")
    (trained,) = runs(tracking_uri, "gbv1-estatev1")
    assert study.info.status == "FINISHED" and study.data.tags["study.of"] == trained.info.run_id
    assert study.data.metrics["rmse"] == pytest.approx(trained.data.metrics["rmse"])

    data = _make(repo, "data")
    assert data.returncode == 0, data.stdout + data.stderr
    (built,) = runs(tracking_uri, "dataset_estate")
    assert built.info.status == "FINISHED"
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["gbv2_dataset_v1"]
    table = repo / "data" / "gbv2_dataset_v1.parquet"
    md5 = subprocess.run(["md5sum", str(table)], capture_output=True, text=True).stdout.split()[0]
    assert lock["outs"][0]["md5"] == md5
    table.unlink()  # what a training pipeline that finds the table missing writes: the same bytes
    code = (
        "from datasets.estate.dataset import materialize_table; materialize_table('gbv2_dataset_v1', 'data')"
    )
    subprocess.run([str(repo / ".venv/bin/python"), "-c", code], cwd=repo, check=True)
    assert subprocess.run(["md5sum", str(table)], capture_output=True, text=True).stdout.split()[0] == md5
    status = subprocess.run([str(repo / ".venv/bin/dvc"), "status"], cwd=repo, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout + status.stderr
