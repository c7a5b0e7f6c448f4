"""A real single-node SLURM cluster (scripts/slurm.sh) runs a two-job sweep through `launcher=slurm`."""

import pytest
from conftest import runs, train
from scale_support import by_tag, is_root, script, sweep_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm():
    """Start the cluster (installing slurm-wlm and munge when missing); stop it afterwards."""
    if not is_root():
        pytest.skip(
            "scripts/slurm.sh installs Debian packages and starts daemons: it needs root (CI is root)"
        )
    started = script("slurm.sh", "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield
    finally:
        stopped = script("slurm.sh", "stop")
        assert stopped.returncode == 0, stopped.stderr


def test_a_sweep_through_slurm_finishes_both_jobs(slurm, tracking_uri, tmp_path):
    done = train(
        "-m", "pipeline=train_iris", "model.C=0.2,2.0", "launcher=slurm", sweep_outputs(tmp_path), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2/2 jobs done" in done.stderr
    found = runs(tracking_uri, "train_iris")
    (parent,) = [r for r in found if "run.uid" not in r.data.tags]
    children = by_tag(found, "mlflow.parentRunId", parent.info.run_id)
    assert sorted(r.data.params["model.C"] for r in children) == ["0.2", "2.0"]
    assert [r.info.status for r in children] == ["FINISHED", "FINISHED"]
    assert parent.info.status == "FINISHED"
    assert list((tmp_path / "outputs" / "multirun").rglob("*_submission.sh"))  # it went through sbatch


def test_the_script_refuses_an_unknown_command():
    done = script("slurm.sh", "restart")
    assert done.returncode == 2 and "usage" in done.stderr
