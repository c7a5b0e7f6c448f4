"""The production super-branch against a real tracking server: PostgreSQL + `mlflow server`."""

import shutil
import uuid
from pathlib import Path

import pytest
from conftest import copy_repo, runs, train
from scale_support import free_port, is_root, script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start PostgreSQL, the S3 API and the MLflow server (scripts/mlflow-server.sh) on free ports."""
    if not is_root():
        pytest.skip("scripts/postgres.sh installs Debian's postgresql and runs it as its user: it needs root")
    port = free_port()
    env = {
        "MLREPO_SERVER_PORT": str(port),
        "MLREPO_SERVER_DIR": str(tmp_path_factory.mktemp("server")),
        "MLREPO_PG_PORT": str(free_port()),
        "MLREPO_S3_PORT": str(free_port()),
        # The postgres user must reach its data folder: not under pytest's root-only tmp.
        "MLREPO_PG_DIR": f"/var/tmp/mlrepo-pg-test-{uuid.uuid4().hex[:8]}",
    }
    try:
        started = script("mlflow-server.sh", "start", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        # The server authenticates: this module's clients log in as its admin.
        password = (Path(env["MLREPO_SERVER_DIR"]) / "admin.password").read_text().strip()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            patch.setenv("MLFLOW_TRACKING_PASSWORD", password)
            yield f"http://127.0.0.1:{port}"
    finally:
        stopped = script("mlflow-server.sh", "stop", env=env)
        shutil.rmtree(env["MLREPO_PG_DIR"], ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr


def test_production_run_is_tracked_on_the_server_and_registered(server, tmp_path):
    from mlflow.tracking import MlflowClient

    repo = copy_repo(tmp_path / "repo")  # a clean git tree: production refuses a dirty one
    env = {"MLFLOW_TRACKING_URI": server}
    done = train("pipeline=train_iris", "branch=production", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs(server, "train_iris")
    assert run.info.status == "FINISHED"
    assert run.data.tags["branch"] == "production" and run.data.tags["git.dirty"] == "false"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # served by the server

    client = MlflowClient(server)
    versions = client.search_model_versions("name = 'IrisClassifier'")
    assert [v.run_id for v in versions] == [run.info.run_id]
    assert client.get_registered_model("IrisClassifier").name == "IrisClassifier"

    # The cached-mode lookup goes through the server's REST API too.
    again = train("pipeline=train_iris", "branch=production", cwd=repo, env=env)
    assert again.returncode == 0 and f"Cached: run {run.info.run_id}" in again.stdout
    listed = train("runs", "--uri", server, cwd=repo)
    assert listed.returncode == 0 and run.info.run_id[:8] in listed.stdout and "FINISHED" in listed.stdout


def test_an_unreachable_server_is_a_clear_user_error(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    done = train(
        "pipeline=train_iris", "branch=production", cwd=repo,
        env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "does not answer" in done.stderr and "make mlflow-server" in done.stderr
    assert "Traceback" not in done.stderr
