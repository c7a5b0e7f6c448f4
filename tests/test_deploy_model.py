"""Deploy machinery: which run is shipped, what the BentoML model records, command-line and batch
prediction, lineage tags. Against a real MLflow store and a throwaway BentoML home."""

import subprocess
import sys

import pytest
from conftest import PYTHON, ROOT, copy_repo
from deploy_support import DEPLOY, bentoml_home, trained_deploy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A trained Iris run imported into a throwaway BentoML home."""
    return trained_deploy(tmp_path_factory)


@pytest.fixture
def cli(env, monkeypatch, capsys):
    """`python -m mlrepo.ship.deploy ARGS` in this process (the subprocess form is tested once)."""
    from mlrepo.ship import deploy

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        with bentoml_home(env["BENTOML_HOME"]):
            code = deploy.main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def create(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(DEPLOY / "create_bento_model.py"), *args], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_the_best_finished_run_by_metric_is_chosen(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from mlrepo.errors import UserError
    from mlrepo.ship import deploy

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("train_iris")
    ids = {}
    for name, status, accuracy in [("low", "FINISHED", 0.5), ("best", "FINISHED", 0.9),
                                   ("failed", "FAILED", 0.99), ("running", "RUNNING", 0.98),
                                   ("sweep-parent", "FINISHED", None)]:  # fmt: skip
        run = client.create_run(experiment, tags={"pipeline": "train_iris"})
        if accuracy is not None:
            client.log_metric(run.info.run_id, "accuracy", accuracy)
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status)
        ids[name] = run.info.run_id

    chosen = deploy.choose_run("train_iris", "development")
    assert chosen.run_id == ids["best"] and chosen.metric == "accuracy" and chosen.value == 0.9
    assert deploy.choose_run("train_iris", run_id=ids["low"]).run_id == ids["low"]
    with pytest.raises(UserError, match="is FAILED; only a FINISHED run"):
        deploy.choose_run("train_iris", run_id=ids["failed"])
    with pytest.raises(UserError, match="is not a run of pipeline 'train_iris'"):
        deploy.choose_run("train_iris", run_id="0123456789abcdef")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(UserError, match="No FINISHED run of pipeline 'train_iris'.*make train"):
        deploy.choose_run("train_iris", "development")


def test_the_bento_model_carries_lineage_labels_and_the_input_contract(env):
    import bentoml
    import pandas as pd

    with bentoml_home(env["BENTOML_HOME"]):
        model = bentoml.models.get(env["MODEL_TAG"])
        labels = model.info.labels
        assert labels["run_id"] == env["RUN_ID"] and labels["deploy"] == "IrisClassifier/V1"
        assert labels["pipeline"] == "train_iris"
        assert labels["dataset_version"] == "v1"
        assert "git_commit" in labels and labels["metric"] == "accuracy"
        assert len(labels["run_uid"]) >= 8  # the run's identity (run.uid tag)
        meta = model.info.metadata
        sample = pd.read_csv(DEPLOY / "sample-input.csv")
        assert meta["input_schema"] == [[c, "double"] for c in sample.columns]  # from the signature
        assert meta["example"] == sample.iloc[0].to_dict()
        pyfunc = bentoml.mlflow.load_model(model)
        assert list(pyfunc.predict(sample))[:2] == ["setosa", "setosa"]
        v2 = bentoml.models.get(env["V2_MODEL_TAG"])
        assert v2.info.labels["deploy"] == "IrisClassifier/V2" and v2.info.labels["run_id"] == env["RUN_ID"]


def test_a_sample_input_that_does_not_fit_the_signature_is_refused_at_import(env, tmp_path, monkeypatch):
    from mlrepo.errors import UserError
    from mlrepo.ship import deploy

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    run = deploy.choose_run("train_iris", run_id=env["RUN_ID"])
    sample = tmp_path / "sample-input.csv"
    for text, message in [
        ("sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n", "missing petal_width"),
        ("sepal_length,sepal_width,petal_length,petal_width,colour\n5.1,3.5,1.4,0.2,red\n", "colour"),
        ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,wide,0.2\n", "row 1"),
    ]:
        sample.write_text(text)
        with pytest.raises(UserError, match=message):
            deploy.input_contract(run, sample)


def test_a_copied_deploy_folder_imports_into_its_own_name(env, tmp_path):
    import shutil

    repo = copy_repo(tmp_path / "repo", git=False)
    copy = repo / "deploy" / "IrisClassifier" / "V7"
    shutil.copytree(repo / "deploy" / "IrisClassifier" / "V1", copy)
    (copy / "common.py").write_text('MODEL_NAME = "iris_copy"\nPIPELINE = "train_iris"\n')  # the names only
    out = tmp_path / "copy.env"
    # Another checkout: its own packages first (the environment's editable install is this one's).
    done = subprocess.run(
        [PYTHON, str(copy / "create_bento_model.py"), "--output-env", str(out)],
        env={**env, "PYTHONPATH": str(repo)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "for IrisClassifier/V7" in done.stdout and "MODEL_TAG=iris_copy:" in out.read_text()


def test_create_bento_model_without_a_run_says_so_in_one_paragraph(tmp_path, env):
    done = create("--run-id", "0123456789abcdef", env=env)
    assert done.returncode == 2
    assert "'0123456789abcdef' is not a run" in done.stderr and "Traceback" not in done.stderr


def test_predict_prints_one_prediction(env):
    done = subprocess.run(
        [PYTHON, "-m", "mlrepo.ship.deploy", "predict", "--model", "IrisClassifier/V1",
         "6.7", "3", "5.2", "2.3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "virginica"


@pytest.mark.parametrize(
    "args, message",
    [
        (["5.1", "3.5"], "Expected 4 values"),
        (["5.1", "3.5", "x", "0.2"], "petal_length' must be a number"),
        (["nan", "3.5", "1.4", "0.2"], "NaN"),
    ],
)
def test_predict_rejects_bad_values(cli, args, message):
    done = cli("predict", "--model", "IrisClassifier/V1", *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_unknown_deploy_lists_the_available_ones(cli):
    done = cli("predict", "--model", "Nope/V9", "1")
    assert done.returncode == 2
    assert "Unknown deploy 'Nope/V9'" in done.stderr and "IrisClassifier/V1" in done.stderr


def test_predict_batch_writes_predictions_and_reports_bad_rows(cli, tmp_path):
    import pandas as pd

    source = tmp_path / "flowers.csv"
    source.write_text(
        "id,sepal_length,sepal_width,petal_length,petal_width\n"
        "a,5.1,3.5,1.4,0.2\n"
        "b,6.7,3.0,5.2,2.3\n"
        "c,5.0,,1.4,0.2\n"
        "d,wide,3.0,5.2,2.3\n"
        "e,7.0,3.2,4.7,1.4\n"
    )
    out = tmp_path / "out.csv"
    args = ["predict-batch", "--model", "IrisClassifier/V1", "--file", str(source), "--out", str(out)]
    done = cli(*args)
    assert done.returncode == 1, done.stderr  # some rows were bad; the good ones are still predicted
    assert "row 3: column 'sepal_width' is null" in done.stderr
    assert "row 4: column 'sepal_length' must be a number" in done.stderr
    assert "3 rows predicted, 2 bad rows" in done.stdout
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table["id"]) == ["a", "b", "c", "d", "e"]
    assert list(table["prediction"]) == ["setosa", "virginica", "", "", "versicolor"]
    assert table["error"][2] and table["error"][3] and not table["error"][0]

    good = tmp_path / "good.csv"
    good.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    done = cli(
        "predict-batch", "--model", "IrisClassifier/V1", "--file", str(good), "--out", str(tmp_path / "g")
    )
    assert done.returncode == 0 and "1 rows predicted, 0 bad rows" in done.stdout


def test_predict_batch_refuses_a_file_without_the_columns(cli, tmp_path):
    source = tmp_path / "wrong.csv"
    source.write_text("a,b\n1,2\n")
    done = cli("predict-batch", "--model", "IrisClassifier/V1", "--file", str(source))
    assert done.returncode == 2
    assert "lacks column(s) sepal_length" in done.stderr and "Traceback" not in done.stderr
    done = cli("predict-batch", "--model", "IrisClassifier/V1", "--file", str(tmp_path / "no.csv"))
    assert done.returncode == 2 and "No such file" in done.stderr


def test_tag_run_records_lineage(cli, env):
    from mlflow.tracking import MlflowClient

    done = cli("tag-run", "--run-id", env["RUN_ID"], "--pipeline", "train_iris",
               "deploy.image_uri=r/x:1", "deploy.image_digest=sha256:ab")  # fmt: skip
    assert done.returncode == 0, done.stderr
    tags = MlflowClient(env["MLFLOW_TRACKING_URI"]).get_run(env["RUN_ID"]).data.tags
    assert tags["deploy.image_uri"] == "r/x:1" and tags["deploy.image_digest"] == "sha256:ab"


def test_the_image_pins_match_the_locked_environment():
    from importlib.metadata import version

    for service in sorted((ROOT / "deploy").glob("*/V*/service.py")):
        text = service.read_text()
        for package in ("bentoml", "mlflow-skinny", "scikit-learn", "skops", "pandas", "numpy"):
            assert f'"{package}=={version(package)}"' in text, (service, package)
    assert sys.version_info[:2] == (3, 11)  # the base image's python3 is 3.11, as the lock's


def test_create_bento_model_imports_what_an_alias_points_at(env, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    env = {**env, "BENTOML_HOME": str(tmp_path / "bentoml")}  # the shared store's :latest stays as it is
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    try:
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        missing = create("--alias", "champion", env=env)
        assert missing.returncode == 2 and "has the alias 'champion'" in missing.stderr
        assert "python -m mlrepo promote" in missing.stderr and "Traceback" not in missing.stderr
        version = mlflow.register_model(f"runs:/{env['RUN_ID']}/model", "IrisClassifier")
        client.set_registered_model_alias("IrisClassifier", "champion", version.version)
        out = tmp_path / "alias.env"
        done = create("--alias", "champion", "--output-env", str(out), env=env)
        assert done.returncode == 0, done.stderr
        assert f"RUN_ID={env['RUN_ID']}" in out.read_text()
    finally:
        mlflow.set_tracking_uri(None)


def test_make_predict_batch_prints_the_commands_own_exit_code(env, tmp_path):
    """GNU make exits 2 on any failure: the target says the command's own code (1 bad rows, 2 a mistake)."""
    source = tmp_path / "flowers.csv"
    header = "sepal_length,sepal_width,petal_length,petal_width\n"
    source.write_text(header + "5.1,3.5,1.4,0.2\n5.0,,1.4,0.2\n")
    out = tmp_path / "out.csv"

    def make(*args: str) -> subprocess.CompletedProcess:
        command = ["make", "-o", ".venv/.synced", "predict-batch", "MODEL=IrisClassifier/V1", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    bad = make(f"FILE={source}", f"OUT={out}")
    assert bad.returncode == 2, bad.stdout + bad.stderr  # make's own code, whatever the command's
    assert "row 2: column 'sepal_width' is null" in bad.stderr
    assert "predict-batch exited 1 (1 some rows were bad" in bad.stderr and out.is_file()
    mistake = make(f"FILE={tmp_path / 'no.csv'}")
    assert mistake.returncode == 2 and "predict-batch exited 2 (" in mistake.stderr
    good = tmp_path / "good.csv"
    good.write_text(header + "5.1,3.5,1.4,0.2\n")
    assert make(f"FILE={good}", f"OUT={tmp_path / 'g.csv'}").returncode == 0

    direct = subprocess.run(  # the command itself keeps its code, as the README documents
        [PYTHON, "-m", "mlrepo.ship.deploy", "predict-batch", "--model", "IrisClassifier/V1", "--file",
         str(source), "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert direct.returncode == 1, direct.stderr
