"""`python -m mlrepo new dataset|model|pipeline`: what each kind writes, and its error paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import PYTHON, ROOT

from mlrepo.__main__ import main
from mlrepo.govern import checks


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the repository's last commit, shared by the tests of this module."""
    return clone(tmp_path_factory.mktemp("new") / "repo")


def clone(dest: Path) -> Path:
    """`git clone` of this repository's last commit into `dest` (what a new user starts from)."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    return dest


def new(repo: Path, *args: str) -> int:
    """`python -m mlrepo new ARGS --root repo`, in process."""
    return main(["new", *args, "--root", str(repo)])


def _only_placeholders(root: Path) -> list[checks.Violation]:
    """The checker's violations in `root`, asserting that each is a placeholder to fill."""
    found = checks.run(root)
    assert all(v.rule == "PLACEHOLDER" for v in found), checks.report(
        [v for v in found if v.rule != "PLACEHOLDER"]
    )
    return found


@pytest.fixture(scope="module")
def scaffolded(repo: Path) -> Path:
    """The copy with wine, WineForest and rfv1-winev1 scaffolded (nothing filled)."""
    assert new(repo, "dataset", "wine") == 0
    assert new(repo, "model", "WineForest") == 0
    assert new(repo, "pipeline", "rfv1-winev1", "--model", "WineForest", "--dataset", "wine") == 0
    return repo


def test_each_kind_writes_its_files(scaffolded: Path):
    for path in [
        "datasets/wine/__init__.py", "datasets/wine/dataset.py", "datasets/wine/common.py",
        "models/WineForest/__init__.py", "models/WineForest/model.py", "models/WineForest/common.py",
        "conf/pipeline/rfv1-winev1.yaml", "train/rfv1_winev1/pipeline.py",
        *(f"train/rfv1_winev1/steps/{s}.py" for s in ("ingest", "transform", "split", "train", "metrics")),
    ]:  # fmt: skip
        assert (scaffolded / path).is_file(), path
    for folder in ("datasets/wine", "models/WineForest", "train/rfv1_winev1"):
        assert not list((scaffolded / folder).rglob("*.jinja"))


def test_the_pipeline_config_and_dvc_stage_follow_the_rules(scaffolded: Path):
    config = yaml.safe_load((scaffolded / "conf/pipeline/rfv1-winev1.yaml").read_text())
    assert config["pipeline"] == {"name": "rfv1-winev1", "code": "rfv1_winev1", "model": "WineForest",
                                  "task": "classification",  # load_frame() unwritten: the default, said
                                  "metric": {"name": "accuracy", "goal": "maximize"}}  # fmt: skip
    assert config["model"] == {"seed": 0}  # WineForest(seed=0): the model's own arguments
    assert config["data"]["table"] == "rfv1_dataset_v1" and config["data"]["version"] == "v1"
    stage = yaml.safe_load((scaffolded / "dvc.yaml").read_text())["stages"]["rfv1_dataset_v1"]
    assert stage["cmd"] == "python -m datasets.wine.dataset --table rfv1_dataset_v1 --data-dir data"
    assert stage["outs"] == ["data/rfv1_dataset_v1.parquet"]


def test_the_model_has_its_class_diagram(scaffolded: Path):
    from mlrepo.govern import diagrams

    init = (scaffolded / "models/WineForest/__init__.py").read_text()
    assert 'class WineForest["WineForest"]' in init and "+build() BaseEstimator" in init
    assert diagrams.write(scaffolded, check_only=True) == []


def test_only_placeholders_are_reported_one_per_place(scaffolded: Path):
    found = _only_placeholders(scaffolded)
    if "PLACEHOLDER" in checks.RULES:
        places = {v.path for v in found}
        assert {
            "datasets/wine/dataset.py",
            "models/WineForest/__init__.py",
            "models/WineForest/model.py",
        } <= places


def test_the_generated_code_passes_ruff(scaffolded: Path):
    paths = ["datasets/wine", "models/WineForest", "train/rfv1_winev1"]
    ruff = str(Path(PYTHON).parent / "ruff")
    config = ["--config", str(ROOT / "pyproject.toml")]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [ruff, *command, *config, *paths], cwd=scaffolded, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("model", "wineForest"), "MODEL-NAME"),
        (("model", "WINE"), "MODEL-NAME"),
        (("dataset", "Wine"), "DATASET-LAYOUT"),
        (("dataset", "class"), "DATASET-LAYOUT"),
        (("pipeline", "rf-wine", "--model", "IrisClassifier", "--dataset", "iris"), "PIPELINE-NAME"),
        (("pipeline", "rfv1-irisv1", "--model", "IrisClassifier", "--dataset", "iris", "--table", "RF_v1"),
         "TABLE-NAME"),
    ],
)  # fmt: skip
def test_a_bad_name_exits_2_with_the_rule_s_message(repo: Path, args, rule, capsys):
    assert new(repo, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {rule}: `") and "\n" not in err.strip()
    known = checks.RULES[rule]
    assert known.id == "DATASET-LAYOUT" or known.summary in err


def test_nothing_is_overwritten(repo: Path, capsys):
    before = (repo / "models/IrisClassifier/model.py").read_bytes()
    assert new(repo, "model", "IrisClassifier") == 2
    assert "models/IrisClassifier/model.py" in capsys.readouterr().err
    assert (repo / "models/IrisClassifier/model.py").read_bytes() == before
    assert new(repo, "dataset", "iris") == 2
    assert "datasets/iris/dataset.py" in capsys.readouterr().err


def test_a_pipeline_needs_its_model_and_dataset_and_a_free_stage(scaffolded: Path, capsys):
    assert new(scaffolded, "pipeline", "rfv1-winev2", "--model", "NoSuch", "--dataset", "wine") == 2
    assert "python -m mlrepo new model NoSuch" in capsys.readouterr().err
    assert new(scaffolded, "pipeline", "rfv1-winev2", "--model", "WineForest", "--dataset", "nosuch") == 2
    assert "python -m mlrepo new dataset nosuch" in capsys.readouterr().err
    assert new(scaffolded, "pipeline", "rfv2-winev1", "--model", "WineForest", "--dataset", "wine",
               "--table", "rfv1_dataset_v1") == 2  # fmt: skip
    assert "dvc.yaml already has a stage rfv1_dataset_v1" in capsys.readouterr().err
    assert not (scaffolded / "conf/pipeline/rfv2-winev1.yaml").exists()


def test_the_command_line_prints_next_steps_and_make_lists_the_targets(tmp_path: Path):
    repo = clone(tmp_path / "repo")
    done = subprocess.run([PYTHON, "-m", "mlrepo", "new", "dataset", "wine", "--root", str(repo)],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "created: datasets/wine/dataset.py" in done.stdout and "fill load_frame()" in done.stdout
    done = subprocess.run([PYTHON, "-m", "mlrepo", "new", "model", "bad_name", "--root", str(repo)],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    helped = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True)
    for target in ("new-dataset", "new-model", "new-pipeline", "new-project"):
        assert target in helped.stdout


REGRESSION_ROWS = """    rng = np.random.default_rng(0)
    area, district = rng.uniform(30, 200, 300), rng.choice(["north", "south"], 300)
    price = area * np.where(district == "north", 3e3, 2e3) + rng.normal(0, 9e3, 300)
    return pd.DataFrame({"area": area, "district": district, TARGET: price})"""


def _regression_dataset(repo: Path, name: str) -> None:
    """`new dataset NAME` with its load_frame() written: a float target and a string column."""
    assert new(repo, "dataset", name) == 0
    path = repo / "datasets" / name / "dataset.py"
    text = path.read_text().replace("import pandas as pd\n", "import numpy as np\nimport pandas as pd\n", 1)
    placeholder = (
        f'    raise NotImplementedError("TODO: load the {name} rows and return them as a DataFrame")'
    )
    path.write_text(text.replace(placeholder, REGRESSION_ROWS))


def test_a_float_target_is_a_regression_with_the_models_own_arguments(repo: Path, capsys):
    _regression_dataset(repo, "estate")
    assert new(repo, "model", "EstateModel") == 0
    model = repo / "models/EstateModel/model.py"
    model.write_text(model.read_text().replace(
        "def __init__(self, seed: int = 0) -> None:\n",
        "def __init__(self, max_iter: int = 100, rate: float = DEFAULT, seed: int = 0, *, ratio=None):\n",
    ).replace("class EstateModel:", "DEFAULT = 0.1\n\n\nclass EstateModel:"))  # fmt: skip
    capsys.readouterr()
    assert new(repo, "pipeline", "gbv1-estatev1", "--model", "EstateModel", "--dataset", "estate") == 0
    out = capsys.readouterr().out
    assert "task: regression (inferred: datasets/estate's target 'target' is float64)" in out
    assert "model.max_iter=a,b,c" in out
    config = yaml.safe_load((repo / "conf/pipeline/gbv1-estatev1.yaml").read_text())
    assert config["pipeline"]["task"] == "regression"
    assert config["pipeline"]["metric"] == {"name": "rmse", "goal": "minimize"}
    assert config["model"] == {"max_iter": 100, "rate": 0.1, "seed": 0, "ratio": None}
    code = (repo / "train/gbv1_estatev1/pipeline.py").read_text()
    assert "log_regression_figures" in code and "confusion" not in code
    metrics = (repo / "train/gbv1_estatev1/steps/metrics.py").read_text()
    assert all(name in metrics for name in ('"rmse"', '"mae"', '"r2"')) and "accuracy" not in metrics
    # --task wins over the inference, and says so.
    assert new(repo, "pipeline", "gbv2-estatev1", "--model", "EstateModel", "--dataset", "estate",
               "--task", "classification", "--table", "gbv2_dataset_v1") == 0  # fmt: skip
    assert "task: classification (--task)" in capsys.readouterr().out
    assert "log_classification_figures" in (repo / "train/gbv2_estatev1/pipeline.py").read_text()


def test_a_float_targets_dataset_splits_without_stratifying(repo: Path):
    _regression_dataset(repo, "flats")
    done = subprocess.run(
        [PYTHON, "-c", "from datasets.flats.dataset import build_table; t = build_table('v1'); "
         "print(t['split'].value_counts().to_dict())"], cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'train': 210" in done.stdout and "'test': 90" in done.stdout


def test_study_and_dataset_pipelines_are_their_own_kind(scaffolded: Path, capsys):
    assert new(scaffolded, "pipeline", "estudy_wine", "--of", "rfv1-winev1") == 0
    assert new(scaffolded, "pipeline", "dataset_wine", "--dataset", "wine", "--table", "rfv9_dataset_v1") == 0
    study = yaml.safe_load((scaffolded / "conf/pipeline/estudy_wine.yaml").read_text())
    assert study["study"] == {"of": "best:rfv1-winev1"} and study["pipeline"]["code"] == "estudy_wine"
    assert "model" not in study and not (scaffolded / "train/estudy_wine/steps").exists()
    assert (
        "def train(config: DictConfig) -> str:" in (scaffolded / "train/estudy_wine/pipeline.py").read_text()
    )
    table = yaml.safe_load((scaffolded / "conf/pipeline/dataset_wine.yaml").read_text())
    assert table["data"]["table"] == "rfv9_dataset_v1" and "model" not in table
    assert "build_table(" in (scaffolded / "train/dataset_wine/pipeline.py").read_text()
    stage = yaml.safe_load((scaffolded / "dvc.yaml").read_text())["stages"]["rfv9_dataset_v1"]
    assert stage["cmd"] == "python -m train pipeline=dataset_wine"
    assert "train/dataset_wine/pipeline.py" in stage["deps"] and "datasets/wine/dataset.py" in stage["deps"]
    capsys.readouterr()
    assert new(scaffolded, "pipeline", "estudy_other") == 2
    assert "pass --of" in capsys.readouterr().err
    assert new(scaffolded, "pipeline", "estudy_other", "--of", "train_iris") == 2  # not a scaffolded layout
    assert "write the study from estudy_iris" in capsys.readouterr().err
    assert new(scaffolded, "pipeline", "dataset_other") == 2
    assert "needs --dataset" in capsys.readouterr().err
