"""Issue 13's evasions of the checker, replayed on throwaway trees: substance, shapes, data, the lock."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from conftest import ROOT
from gates_support import commit, git, make_repo, mlrepo

from mlrepo.govern import checks

MODEL = "models/IrisClassifier"


def _found(root: Path) -> list[checks.Violation]:
    return checks.run(root)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_placeholders_fail_one_per_place(tmp_path: Path) -> None:
    """TODO/TBD/`...`/<describe ...>/an empty Changes fail, one violation per line, `_x.py` included."""
    repo = make_repo(tmp_path)
    _write(repo / "datasets/iris/dataset.py", '"""TODO"""\n')
    _write(repo / "datasets/wine_loader.py", '"""Load the wine table."""\n')
    _write(repo / "train/iris/_helpers.py", "def clean(rows):\n    # TODO: drop nulls\n    ...\n")
    init = repo / f"{MODEL}/__init__.py"
    text = init.read_text().replace("## Motivation\n", "## Motivation\n\n<describe why this model>\n\nTBD\n")
    init.write_text(text.replace("## Diagram", "## Changes\n\n## Diagram"))
    found = _found(repo)
    placeholders = sorted((v.path, v.line) for v in found if v.rule == "PLACEHOLDER")
    paths = [p for p, _ in placeholders]
    assert paths.count("datasets/iris/dataset.py") == 1
    assert paths.count("train/iris/_helpers.py") == 2  # the TODO line and the `...` line
    assert paths.count(f"{MODEL}/__init__.py") == 3, placeholders  # <describe>, TBD, empty Changes
    assert any(v.rule == "DOCSTRING" and v.path == "train/iris/_helpers.py" for v in found)
    assert any(v.rule == "DATASET-LAYOUT" and v.path == "datasets/wine_loader.py" for v in found)
    done = mlrepo("check", "--root", str(repo))
    assert done.returncode == 1 and "PLACEHOLDER datasets/iris/dataset.py:1 `TODO`" in done.stdout


def test_diagram_covers_common_classes(tmp_path: Path) -> None:
    """A class in common.py missing from the diagram is stale; `mlrepo diagrams` draws it."""
    repo = make_repo(tmp_path)
    common = repo / f"{MODEL}/common.py"
    scaler = (
        '\n\nclass Scaler:\n    """Scale rows."""\n\n'
        '    def fit(self, rows: list) -> "Scaler":\n        """Fit."""\n        return self\n'
    )
    common.write_text(common.read_text() + scaler)
    assert "DIAGRAM-STALE" in {v.rule for v in _found(repo)}
    assert mlrepo("diagrams", "--root", str(repo)).returncode == 0
    assert "Scaler" in (repo / f"{MODEL}/__init__.py").read_text()
    assert _found(repo) == []


def test_shapes_outside_the_pattern_are_flagged(tmp_path: Path) -> None:
    """v2, V2.1, a deploy without its model, pipeline.name != stem, train without a return, a bad table."""
    repo = make_repo(tmp_path)
    _write(repo / "deploy/IrisClassifier/v2/service.py", '"""S."""\n')
    _write(repo / "deploy/IrisClassifier/V2.1/service.py", '"""S."""\n')
    _write(repo / "deploy/WineForest/V1/service.py", '"""S."""\n')
    config = repo / "conf/pipeline/train_iris.yaml"
    config.write_text(
        config.read_text().replace("name: train_iris", "name: iris") + "data:\n  table: IrisRaw\n"
    )
    pipeline = repo / "train/iris/pipeline.py"
    pipeline.write_text(pipeline.read_text().replace("    return dict(config)\n", "    print(config)\n"))
    got = {(v.rule, v.path) for v in _found(repo)}
    for expected in (
        ("DEPLOY-SHAPE", "deploy/IrisClassifier/v2"),
        ("DEPLOY-SHAPE", "deploy/IrisClassifier/V2.1"),
        ("DEPLOY-SHAPE", "deploy/WineForest"),
        ("PIPELINE-NAME", "conf/pipeline/train_iris.yaml"),
        ("TABLE-NAME", "conf/pipeline/train_iris.yaml"),
        ("PIPELINE-RETURN", "train/iris/pipeline.py"),
    ):
        assert expected in got, got


def test_estudy_is_a_reserved_task_and_the_guide_says_so() -> None:
    """`estudy_iris` is a valid name; the guide lists the same tasks as conf/governance.yaml."""
    from mlrepo.govern.checks.names import problem

    tasks = yaml.safe_load((ROOT / "conf/governance.yaml").read_text())["reserved_tasks"]
    assert {"estudy", "study"} <= set(tasks)
    assert problem("pipeline", "estudy_iris") is None and problem("pipeline", "iris_estudy")
    guide = (ROOT / "docs/guides/governance.md").read_text()
    assert f"(tasks in conf/governance.yaml: {', '.join(tasks)})" in guide


def test_data_is_known_by_its_bytes_and_size_everywhere(tmp_path: Path) -> None:
    """Renamed CSV/Parquet, an oversized allow-listed file, a DVC output force-added to git: all fail."""
    repo = make_repo(tmp_path, git=True)
    _write(repo / "reports/rows.txt", "sepal,petal,label\n" + "5.1,3.5,0\n" * 40)
    (repo / "reports/table.dat").write_bytes(b"PAR1" + bytes(200) + b"PAR1")
    _write(repo / "deploy/IrisClassifier/V1/sample-input.csv", "a,b\n" + "1,2\n" * 150_000)
    _write(repo / "data/irisv1_dataset_v1.parquet", "PAR1")
    git(repo, "add", "-f", "data/irisv1_dataset_v1.parquet")
    commit(repo, "data in disguise")
    raw = {v.path: v.message for v in _found(repo) if v.rule == "RAW-DATA"}
    assert "CSV-like text (known by its bytes)" in raw["reports/rows.txt"]
    assert "a Parquet file" in raw["reports/table.dat"]
    assert "over the 500 KB limit" in raw["deploy/IrisClassifier/V1/sample-input.csv"]
    assert "a DVC output is in git" in raw["data/irisv1_dataset_v1.parquet"]


def test_lock_is_checked_by_content(tmp_path: Path) -> None:
    """A package removed from the lock with the hash left as it was, or a pin outside the range, fails."""
    repo = make_repo(tmp_path)
    lock = json.loads((repo / "Pipfile.lock").read_text())
    del lock["default"]["hydra-core"]
    (repo / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    messages = [v.message for v in _found(repo) if v.rule == "PIPFILE-LOCK"]
    assert messages == ["`hydra-core` is in Pipfile but not in Pipfile.lock's `default`"], messages
    pipfile = repo / "Pipfile"
    pipfile.write_text(re.sub(r'pytest = "[^"]*"', 'pytest = ">=99"', pipfile.read_text()))
    assert any("which Pipfile's `>=99` does not allow" in v.message for v in _found(repo))
