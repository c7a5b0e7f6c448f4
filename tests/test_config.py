"""The config tree: every pipeline composes, and the precedence rule holds."""

import pytest
from omegaconf import OmegaConf

from mlrepo import ROOT
from mlrepo.errors import UserError
from mlrepo.run.config import available, check_choices, compose, flatten
from mlrepo.track.tracking import resolve_uri

PIPELINES = available("pipeline")
BRANCHES = available("branch")


def test_there_are_pipelines_and_both_super_branches():
    assert "train_iris" in PIPELINES
    assert BRANCHES == ["development", "production"]


@pytest.mark.parametrize("branch", BRANCHES)
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_pipeline_composes_on_every_branch(pipeline, branch):
    cfg = compose([f"pipeline={pipeline}", f"branch={branch}"])
    OmegaConf.resolve(cfg)  # every interpolation resolves
    assert cfg.branch.name == branch
    code = OmegaConf.select(cfg, "pipeline.code")  # or a study that is a notebook (pipeline.notebook)
    assert (ROOT / "train" / str(code) / "pipeline.py").is_file() or (
        ROOT / str(cfg.pipeline.notebook)
    ).is_file()
    assert "???" not in str(flatten(cfg))
    if OmegaConf.select(cfg, "pipeline.model"):  # a training pipeline: its model, kind and metric
        from mlrepo.run import metric

        assert (ROOT / "models" / cfg.pipeline.model / "model.py").is_file()
        assert OmegaConf.select(cfg, "pipeline.task") in (None, *metric.TASKS)
        assert metric.of_config(cfg).goal in metric.GOALS


def test_development_is_the_default_branch():
    assert compose(["pipeline=train_iris"]).branch.name == "development"


def test_super_branch_wins_over_pipeline_and_command_line_wins_over_both():
    pipeline_only = OmegaConf.load(ROOT / "conf" / "pipeline" / "train_iris.yaml")
    assert pipeline_only.data.max_rows is None  # the pipeline asks for all rows
    assert compose(["pipeline=train_iris"]).data.max_rows == 100000  # development caps
    assert compose(["pipeline=train_iris", "branch=production"]).data.max_rows is None
    assert compose(["pipeline=train_iris", "data.max_rows=50"]).data.max_rows == 50
    assert compose(["pipeline=train_iris", "branch=production", "data.max_rows=7"]).data.max_rows == 7


def test_unknown_pipeline_lists_the_available_ones():
    with pytest.raises(UserError) as err:
        compose(["pipeline=nope"])
    assert "nope" in str(err.value)
    assert "train_iris" in str(err.value)


def test_missing_pipeline_and_unknown_branch_are_user_errors():
    with pytest.raises(UserError, match="No pipeline given"):
        check_choices([])
    with pytest.raises(UserError, match="Available super-branches: development, production"):
        check_choices(["pipeline=train_iris", "branch=staging"])


def test_unknown_key_is_a_user_error():
    with pytest.raises(UserError, match="model.not_a_key"):
        compose(["pipeline=train_iris", "model.not_a_key=1"])


def test_relative_sqlite_store_resolves_against_the_repository_root(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri("sqlite:///.mlflow/mlflow.db") == f"sqlite:///{ROOT}/.mlflow/mlflow.db"
    assert resolve_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x/y.db")
    assert resolve_uri("http://ignored") == f"sqlite:///{ROOT}/x/y.db"


def test_flatten_gives_dotted_string_params():
    flat = flatten(compose(["pipeline=train_iris", "model.C=0.5"]))
    assert flat["model.C"] == "0.5"
    assert flat["pipeline.name"] == "train_iris"
    assert flat["data.max_rows"] == "100000"
