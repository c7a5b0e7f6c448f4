"""`python -m mlrepo trace` on a SQLite store and a throwaway BentoML store: every kind of THING,
both directions, the dataset's DVC md5, `--json`, and broken links reported, not skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT

DIGEST = "sha256:" + "ab" * 32
IMAGE = "127.0.0.1:5000/iris-classifier:abc123"

pytestmark = pytest.mark.slow  # each trace is a process importing MLflow and BentoML (~5 s)


def trace(uri: str, thing: str, bentoml_home, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENTOML_HOME": str(bentoml_home)}
    return subprocess.run(
        [sys.executable, "-m", "mlrepo", "trace", thing, "--uri", uri, *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def lineage(tmp_path, tracking_uri):
    """A run with a dataset table, overrides, a registered version @champion, a pushed image's tags,
    and a BentoML model labelled with its run id (plus one labelled with a run that does not exist)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from mlrepo.track import tables, tracking

    uri = tracking.connect(tracking_uri)
    table = tmp_path / "data" / "iris_dataset_v1.parquet"
    table.parent.mkdir()
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    frame.to_parquet(table)
    exp = tracking.experiment_id("train_iris", uri)
    with mlflow.start_run(experiment_id=exp, tags={
        "pipeline": "train_iris", "branch": "production", "git.commit": "c0ffee", "git.branch": "main",
        "git.dirty": "false", "run.uid": "u1d", "dataset.version": "v1",
        "deploy.image_uri": IMAGE, "deploy.image_digest": DIGEST, "deploy.bento_tag": "iris_classifier:gone",
    }) as run:  # fmt: skip
        tables.log_input("iris_dataset_v1", frame, table, tmp_path)
        mlflow.log_text("- model.C=0.5\n", "config/overrides.yaml")
        mlflow.log_text("x", "model/MLmodel")
    client = MlflowClient(uri)
    client.create_registered_model("IrisClassifier")
    version = client.create_model_version("IrisClassifier", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("IrisClassifier", "champion", version.version)
    home = tmp_path / "bentoml"
    code = (
        "import bentoml, sys\n"
        "with bentoml.models.create('iris_classifier', labels={'run_id': sys.argv[1]}) as m: pass\n"
        "with bentoml.models.create('orphan', labels={'run_id': '0' * 32}) as m: pass\n"
        "print(m.tag)"
    )
    env = {**os.environ, "BENTOML_HOME": str(home)}
    args = [sys.executable, "-c", code, run.info.run_id]
    made = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return uri, run.info.run_id, tables.dvc_hash(table), home, made.stdout.strip()


def test_trace_from_the_image_digest_reaches_the_dataset_md5(lineage):
    uri, run_id, md5, home, _ = lineage
    done = trace(uri, DIGEST, home, "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["image"]["image_uri"] == IMAGE and found["run"]["run_id"] == run_id
    run = found["run"]
    assert run["git_commit"] == "c0ffee" and run["run_uid"] == "u1d" and run["overrides"] == ["model.C=0.5"]
    table = {"name": "iris_dataset_v1", "md5": md5, "source": "data/iris_dataset_v1.parquet"}
    assert run["datasets"] == [{**table, "dvc_status": "untracked"}]
    made = found["made_from_run"]
    assert made["model_versions"] == [{"name": "IrisClassifier", "version": "1", "aliases": ["champion"]}]
    assert [t.split(":")[0] for t in made["bentoml_models"]] == ["iris_classifier"]
    # The Bento the run names is not in this store: a broken link, reported.
    assert any("iris_classifier:gone" in line for line in found["broken"])


@pytest.mark.parametrize("kind", ["run", "alias", "version", "image", "bentoml"])
def test_every_kind_of_thing_leads_to_the_same_run(lineage, kind):
    uri, run_id, md5, home, _ = lineage
    thing = {"run": run_id, "alias": "IrisClassifier@champion", "version": "IrisClassifier/1",
             "image": IMAGE, "bentoml": "iris_classifier:latest"}[kind]  # fmt: skip
    done = trace(uri, thing, home)
    assert done.returncode == 0, done.stderr
    assert f"run            {run_id} FINISHED" in done.stdout and md5 in done.stdout
    assert "IrisClassifier version 1 @champion" in done.stdout


def test_broken_and_unknown_links_are_reported(lineage):
    uri, _, _, home, orphan = lineage
    missing = trace(uri, "sha256:" + "cd" * 32, home)
    assert missing.returncode == 0 and "BROKEN" in missing.stdout and "no run carries" in missing.stdout
    dangling = trace(uri, orphan, home, "--json")
    assert dangling.returncode == 0, dangling.stderr
    assert any("not found on the tracking server" in line for line in json.loads(dangling.stdout)["broken"])
    nonsense = trace(uri, "no-such-thing", home)
    assert nonsense.returncode == 2 and "is none of" in nonsense.stderr and "Traceback" not in nonsense.stderr
    unknown = trace(uri, "Nope@champion", home)
    assert unknown.returncode == 2 and "no registered model version" in unknown.stderr
