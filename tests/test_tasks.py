"""The task decides the product: `dataset_` makes a table, `estudy_` a report, `train_` a model (or fails)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import runs, train
from digits_support import TABLE, TABLE_PATH, dvc, dvc_repo_copy, locked_md5, mlflow_store

from mlrepo.errors import UserError
from mlrepo.run import tasks
from mlrepo.track import tables


@pytest.mark.parametrize(
    ("name", "task"),
    [("train_iris", "train"), ("cnnv1-digitsv1", "train"), ("dataset_digits", "dataset"),
     ("estudy_iris", "estudy"), ("study_x", "study"), ("datasetless", "train")],
)  # fmt: skip
def test_the_task_is_read_from_the_pipeline_name(name, task):
    assert tasks.task_of(name) == task


def test_help_groups_pipelines_by_task():
    done = train("--help")
    assert done.returncode == 0
    lines = {line.split(":")[0].strip(): line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert "train_iris" in lines["train"] and "cnnv1-digitsv1" in lines["train"]
    assert "dataset_digits" in lines["dataset"] and "estudy_iris" in lines["estudy"]


def test_a_study_target_that_names_nothing_is_refused(tracking_uri):
    with pytest.raises(UserError, match="best:<pipeline>"):
        tasks.resolve("the-good-one", tracking_uri)
    with pytest.raises(UserError, match="no FINISHED run"):
        tasks.resolve("best:train_iris", tracking_uri)


def test_a_study_with_nothing_to_study_stops_before_any_run(tracking_uri):
    done = train("pipeline=estudy_iris")
    assert done.returncode == 2
    assert "has no FINISHED run" in done.stderr and "Traceback" not in done.stderr
    assert runs(tracking_uri, "estudy_iris") == []


@pytest.mark.slow
def test_a_training_pipeline_that_returns_nothing_fails_clearly(repo_copy, tracking_uri):
    pipeline = repo_copy / "train" / "iris" / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace("    return model\n", "    del model\n"))
    done = train("pipeline=train_iris", cwd=repo_copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "returned nothing" in done.stderr and "training pipeline" in done.stderr
    assert "Traceback" not in done.stderr
    (run,) = runs(tracking_uri, "train_iris")
    assert run.info.status == "FAILED"
    assert "returned nothing" in run.data.tags["mlrepo.error"]
    # A failed run has its card too, showing the error.
    from mlflow.tracking import MlflowClient

    path = MlflowClient(tracking_uri).download_artifacts(run.info.run_id, "card.html", str(repo_copy))
    text = Path(path).read_text()
    assert 'class="status FAILED"' in text and "returned nothing" in text


@pytest.mark.slow
def test_dataset_digits_through_dvc_repro(tmp_path, tracking_uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    repo = dvc_repo_copy(tmp_path / "repo", tmp_path / "remote")
    done = dvc("repro", cwd=repo, timeout=300)
    assert "Running stage 'cnnv1_dataset_v1'" in done.stdout
    path = repo / TABLE_PATH

    # The table: the bytes dvc.lock records, its metadata naming the run's identity.
    assert tables.dvc_hash(path) == locked_md5(repo) == locked_md5()
    (run,) = runs(tracking_uri, "dataset_digits")
    assert run.info.status == "FINISHED"
    assert tables.metadata_of(path) == {"run_uid": run.data.tags["run.uid"], "pipeline": "dataset_digits"}

    # The run's dataset output: name, md5, schema and profile.
    (output,) = run.inputs.dataset_inputs
    tags = {t.key: t.value for t in output.tags}
    assert tags["mlflow.data.context"] == "output" and tags["mlrepo.direction"] == "output"
    assert output.dataset.name == TABLE and output.dataset.digest == tables.dvc_hash(path)
    assert run.data.metrics["rows"] == 1797 and run.data.tags["dataset.md5"] == output.dataset.digest
    client = MlflowClient(tracking_uri)
    with mlflow_store(tracking_uri):
        profile = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/dataset/profile.json")
        card = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/card.html")
    assert profile["digit"] == {"dtype": "uint8", "nulls": 0, "min": 0.0, "max": 9.0}
    assert profile["split"]["top"] == {"train": 1257, "validation": 270, "test": 270}
    assert TABLE in card and output.dataset.digest in card

    # A training run's dataset input leads back to the run that built the table.
    with mlflow_store(tracking_uri), mlflow.start_run() as reader:
        tables.log_input(TABLE, tables.read(TABLE, repo / "data"), path, repo)
    (used,) = client.get_run(reader.info.run_id).inputs.dataset_inputs
    used_tags = {t.key: t.value for t in used.tags}
    assert used_tags["producer.run_uid"] == run.data.tags["run.uid"]
    from mlrepo.track import card as card_module

    assert card_module._producer(client, used_tags) == f"run {run.info.run_id} (dataset_digits)"

    # Nothing changed: a second repro runs nothing, and the runner would not rebuild either.
    again = dvc("repro", cwd=repo)
    assert "didn't change, skipping" in again.stdout and "Running stage" not in again.stdout
    assert len(runs(tracking_uri, "dataset_digits")) == 1
    # The runner reuses the dataset run only while its table is there: without it, it rebuilds.
    # (mlflow_store's reset cleared MLFLOW_TRACKING_URI in this process: pass it explicitly.)
    store = {"MLFLOW_TRACKING_URI": tracking_uri}
    assert "Cached: run" in train("pipeline=dataset_digits", cwd=repo, env=store).stdout
    path.unlink()
    rebuilt = train("pipeline=dataset_digits", cwd=repo, env=store)
    assert rebuilt.returncode == 0 and "Cached" not in rebuilt.stdout
    assert tables.dvc_hash(path) == locked_md5() and len(runs(tracking_uri, "dataset_digits")) == 2


@pytest.mark.slow
def test_estudy_iris_end_to_end(repo_copy, tracking_uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    assert train("pipeline=train_iris", cwd=repo_copy).returncode == 0
    better = train("pipeline=train_iris", "model.C=10", cwd=repo_copy)
    assert better.returncode == 0, better.stderr[-2000:]
    trained = {r.info.run_id: r for r in runs(tracking_uri, "train_iris")}
    best = max(trained.values(), key=lambda r: r.data.metrics["accuracy"])

    done = train("pipeline=estudy_iris", cwd=repo_copy)
    assert done.returncode == 0, done.stderr[-3000:]
    (study,) = runs(tracking_uri, "estudy_iris")
    assert study.info.status == "FINISHED"
    assert study.data.tags["study.of"] == best.info.run_id
    assert study.data.params["study.run_id"] == best.info.run_id
    client = MlflowClient(tracking_uri)
    assert client.get_run(best.info.run_id).data.tags["studied.by"] == study.info.run_id
    assert {"test_accuracy", "top_importance", "errors"} <= set(study.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(study.info.run_id, "plots")}
    assert {"plots/permutation_importance.png", "plots/pairwise_features.png"} <= artifacts
    with mlflow_store(tracking_uri):
        report = mlflow.artifacts.load_text(f"runs:/{study.info.run_id}/report.html")
        card = mlflow.artifacts.load_text(f"runs:/{study.info.run_id}/card.html")
    assert "<h2>Permutation importance</h2>" in report and "petal" in report
    assert "srcdoc=" in card and best.info.run_id in card

    # The same study of the same model is not run twice.
    # (mlflow_store's reset cleared MLFLOW_TRACKING_URI in this process: pass it explicitly.)
    store = {"MLFLOW_TRACKING_URI": tracking_uri}
    again = train("pipeline=estudy_iris", cwd=repo_copy, env=store)
    assert again.returncode == 0 and "Cached: run " + study.info.run_id in again.stdout
    assert len(runs(tracking_uri, "estudy_iris")) == 1
    # Studying another run is another study (the studied run is part of run.uid).
    other = next(r for r in trained if r != best.info.run_id)
    third = train("pipeline=estudy_iris", f"study.of={other}", cwd=repo_copy, env=store)
    assert third.returncode == 0, third.stderr[-2000:]
    assert len(runs(tracking_uri, "estudy_iris")) == 2


def test_runs_are_listed_by_task():
    from mlrepo.track.runs import RunRecord

    records = [RunRecord("a", "estudy_iris", "FINISHED", 0, {"pipeline": "estudy_iris"}),
               RunRecord("b", "train_iris", "FINISHED", 0, {"pipeline": "train_iris"}),
               RunRecord("c", "dataset_digits", "FINISHED", 0, {"pipeline": "dataset_digits"})]  # fmt: skip
    assert [(t, [r.run_id for r in rs]) for t, rs in tasks.group_runs(records).items()] == [
        ("train", ["b"]),
        ("dataset", ["c"]),
        ("estudy", ["a"]),
    ]


def test_the_checker_knows_the_tasks(tmp_path):
    from conftest import copy_repo

    from mlrepo.govern import checks

    root = copy_repo(tmp_path / "repo", git=False)
    (root / "conf/pipeline/estudy_vague.yaml").write_text(
        "# @package _global_\npipeline:\n  name: estudy_vague\n  code: estudy_iris\n"
    )
    (root / "conf/pipeline/dataset_more.yaml").write_text(
        "# @package _global_\npipeline:\n  name: dataset_more\n  code: dataset_digits\n"
    )
    found = checks.check_repo(checks.Repo.open(root), ["PIPELINE-CONFIG", "PIPELINE-NAME"])
    assert [(v.path, v.rule) for v in found] == [("conf/pipeline/estudy_vague.yaml", "PIPELINE-CONFIG")]
    assert "study.of" in found[0].message
