"""Run identity: what changes `run.uid` and what does not (composed from the real configs)."""

import shutil

from conftest import copy_repo
from omegaconf import OmegaConf

from mlrepo import ROOT
from mlrepo.run.config import compose
from mlrepo.run.identity import changed_values, compute, group_choices, source_files

BASE = ["pipeline=train_iris"]


def uid(*overrides, root=ROOT):
    return compute(compose([*BASE, *overrides]), compose(BASE), root=root)


def test_a_default_written_out_does_not_change_the_uid():
    assert uid().uid == uid("model.C=1.0").uid == uid("model.max_iter=200", "data.version=v1").uid
    assert uid().changed == {}


def test_a_changed_value_changes_the_uid_and_is_listed():
    ident = uid("model.C=0.5")
    assert ident.uid != uid().uid
    assert ident.changed == {"model.C": "0.5"}
    assert ident.changed_text() == "model.C=0.5"
    assert uid("data.version=v2").uid != uid().uid  # another dataset version


def test_non_identity_keys_do_not_change_the_uid():
    plain = uid().uid
    assert uid("tracking.uri=sqlite:////elsewhere.db").uid == plain
    assert uid("logging.level=DEBUG").uid == plain
    assert uid("mode=force").uid == plain
    assert uid("launcher=local").uid == plain


def test_the_ignored_keys_are_declared_in_config():
    ignore = list(compose(BASE).identity.ignore)
    assert {"tracking", "logging", "workers", "device", "mode", "launcher"} <= set(ignore)


def test_production_trains_on_other_data_so_its_uid_differs():
    prod = compute(compose([*BASE, "branch=production"]), compose(BASE))
    assert prod.changed["data.max_rows"] == "null"
    assert prod.uid != uid().uid


def test_the_pipeline_sources_are_found_statically():
    files = {str(p.relative_to(ROOT)) for p in source_files("iris")}
    assert {
        "train/iris/pipeline.py",
        "train/iris/steps/train.py",
        "models/IrisClassifier/model.py",
        "models/IrisClassifier/__init__.py",
        "datasets/iris/common.py",
        "mlrepo/track/tracking.py",
        "mlrepo/__init__.py",
    } <= files
    assert "mlrepo/run/runner.py" not in files  # the runner is not imported by the pipeline
    assert not any(
        f.startswith("models/") and "IrisClassifier" not in f for f in files if f != "models/__init__.py"
    )


def _copy(tmp_path):
    dest = tmp_path / "repo"
    for name in ("mlrepo", "train", "datasets", "models", "conf"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_editing_the_model_changes_the_uid_editing_another_model_does_not(tmp_path):
    repo = _copy(tmp_path)
    before = uid(root=repo).uid
    assert before == uid().uid  # same sources, same uid, wherever the repository is

    other = repo / "models" / "OtherModel"
    other.mkdir()
    (other / "__init__.py").write_text('"""Another model."""\n')
    (other / "model.py").write_text('"""Another model."""\nX = 1\n')
    assert uid(root=repo).uid == before

    model = repo / "models" / "IrisClassifier" / "model.py"
    model.write_text(model.read_text() + "\n# a change\n")
    assert uid(root=repo).uid != before


def test_changed_values_marks_removed_keys_and_skips_ignored_ones():
    assert changed_values({"a": "1", "t.uri": "x"}, {"a": "1", "b": "2", "t.uri": "y"}, ["t"]) == {"b": "~"}
    assert group_choices(["pipeline=train_iris", "model.C=2"]) == ["pipeline=train_iris"]


def test_the_uid_is_stable_across_processes():
    cfg = compose(BASE)
    assert compute(cfg, compose(BASE)).uid == compute(OmegaConf.create(OmegaConf.to_container(cfg)), cfg).uid


def test_editing_the_development_branch_cap_changes_the_uid_its_tracking_and_logging_do_not(tmp_path):
    repo = copy_repo(tmp_path / "repo", git=False)
    branch = repo / "conf" / "branch" / "development.yaml"
    before = uid(root=repo).uid
    assert before == uid().uid

    text = branch.read_text()
    branch.write_text(text.replace("uri: sqlite:///.mlflow/mlflow.db", "uri: sqlite:////elsewhere/mlflow.db")
                      .replace("level: INFO", "level: DEBUG"))  # fmt: skip
    assert branch.read_text() != text
    assert uid(root=repo).uid == before  # where runs are logged and how verbosely: same training

    branch.write_text(text.replace("max_rows: 100000", "max_rows: 500"))
    assert uid(root=repo).uid != before  # the cap changes what is trained
    branch.write_text(text.replace("max_epochs: 5", "max_epochs: 2"))
    assert uid(root=repo).uid != before


def test_editing_the_development_branch_does_not_change_production_uids(tmp_path):
    repo = copy_repo(tmp_path / "repo", git=False)
    prod = compute(compose([*BASE, "branch=production"]), compose(BASE), root=repo).uid
    branch = repo / "conf" / "branch" / "development.yaml"
    branch.write_text(branch.read_text().replace("max_rows: 100000", "max_rows: 500"))
    assert compute(compose([*BASE, "branch=production"]), compose(BASE), root=repo).uid == prod
