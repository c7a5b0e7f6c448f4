"""Every checker rule on a compliant and a violating fixture tree (built in tmp_path, never imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from gates_support import commit, make_repo, mlrepo, rule_ids

from mlrepo.govern import checks


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


MODEL = "models/IrisClassifier"
DEPLOY = "deploy/IrisClassifier/V1"
NOTEBOOKS = "datasets/iris/notebooks"
STUDY_NOTEBOOK = (
    "# @package _global_\npipeline:\n  name: estudy_errors\n  notebook: {nb}\nstudy:\n  of: best:train_iris\n"
)


def _notebook(path: Path, *sources: str, outputs: bool = False) -> None:
    """Write a notebook (nbformat 4.5) whose code cells hold `sources`; with outputs if asked."""
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": source,
              "execution_count": 1 if outputs else None,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "4\n"}] if outputs else []}
             for i, source in enumerate(sources)]  # fmt: skip
    _write(path, json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


BREAKS: dict[str, list[Callable[[Path], None]]] = {
    "DATASET-LAYOUT": [
        lambda r: _write(r / "datasets/wine_loader.py", '"""Load wine."""\n'),
        lambda r: (r / "datasets/iris/common.py").unlink(),
        lambda r: (r / "datasets/iris/dataset.py").unlink(),
    ],
    "MODEL-NAME": [
        lambda r: [_write(r / f"models/iris_net/{n}", '"""x."""\n') for n in ("model.py", "common.py")]
    ],
    "MODEL-LAYOUT": [
        lambda r: (r / f"{MODEL}/common.py").unlink(),
        lambda r: (r / f"{MODEL}/model.py").unlink(),
    ],
    "MODEL-DOCS": [
        lambda r: _edit(r / f"{MODEL}/__init__.py", "## Motivation", "## Why"),
        lambda r: _edit(r / f"{MODEL}/__init__.py", "```mermaid", "```text"),
        lambda r: _write(r / f"{MODEL}/__init__.py", "X = 1\n"),
    ],
    "DIAGRAM-STALE": [
        lambda r: _edit(
            r / f"{MODEL}/model.py", "def build(self) -> Pipeline:", "def build(self, n: int) -> Pipeline:"
        ),
        lambda r: _edit(
            r / f"{MODEL}/model.py", "def build(self) -> Pipeline:", "def build(self) -> object:"
        ),
        lambda r: _edit(r / f"{MODEL}/model.py", "seed: int = 0", "seed: int = 0, tol: float = 1e-4"),
        lambda r: _edit(r / f"{MODEL}/__init__.py", "+build() Pipeline", "build() Pipeline"),
    ],
    "DOCSTRING": [
        lambda r: _write(r / "datasets/iris/dataset.py", '"""Data."""\n\n\ndef load():\n    return []\n'),
        lambda r: _write(r / "train/iris/steps/split.py", "def split(x):\n    return x\n"),
        lambda r: _write(
            r / f"{DEPLOY}/service.py",
            '"""S."""\n\n\nclass Svc:\n    """S."""\n\n    def predict(self):\n        return 1\n',
        ),
    ],
    "PIPELINE-ENTRY": [
        lambda r: _edit(
            r / "train/iris/pipeline.py", "def train(config: DictConfig)", "def fit(config: DictConfig)"
        ),
        lambda r: _edit(
            r / "train/iris/pipeline.py", "def train(config: DictConfig)", "def train(cfg: dict)"
        ),
        lambda r: (r / "train/iris/pipeline.py").unlink(),
    ],
    "PIPELINE-NAME": [
        lambda r: _edit(r / "conf/pipeline/train_iris.yaml", "name: train_iris", "name: iris"),
        lambda r: _write(
            r / "conf/pipeline/iris_quick.yaml", "# @package _global_\npipeline:\n  code: iris\n"
        ),
        lambda r: _write(
            r / "conf/pipeline/cnn-digits.yaml", "# @package _global_\npipeline:\n  code: iris\n"
        ),
    ],
    "PIPELINE-CONFIG": [
        lambda r: _edit(r / "conf/pipeline/train_iris.yaml", "code: iris", "code: nowhere"),
        lambda r: _edit(r / "conf/pipeline/train_iris.yaml", "model: IrisClassifier", "model: Missing"),
        lambda r: _edit(r / "conf/pipeline/train_iris.yaml", "# @package _global_\n", ""),
        lambda r: _write(
            r / "conf/pipeline/estudy_errors.yaml", STUDY_NOTEBOOK.format(nb=f"{MODEL}/notebooks/none.ipynb")
        ),
        lambda r: (
            _notebook(r / f"{MODEL}/notebooks/errors.ipynb", "print(1)\n"),
            _edit(
                r / "conf/pipeline/train_iris.yaml",
                "  code: iris\n",
                f"  notebook: {MODEL}/notebooks/errors.ipynb\n",
            ),
        ),
    ],
    "DEPLOY-LAYOUT": [
        lambda r: _write(r / f"{DEPLOY}/__init__.py", '"""No."""\n'),
        lambda r: (r / f"{DEPLOY}/ecr.sh").chmod(0o644),
        lambda r: (r / f"{DEPLOY}/sample-input.csv").unlink(),
        lambda r: (r / f"{DEPLOY}/create_bento_model.py").unlink(),
        lambda r: (r / f"{DEPLOY}/deploy.yaml").unlink(),
        lambda r: _write(r / f"{DEPLOY}/deploy.yaml", "replicas: 1\nreplica: 2\n"),
        lambda r: _write(r / f"{DEPLOY}/deploy.yaml", "config:\n  DB_PASSWORD: x\n"),
    ],
    "TABLE-NAME": [
        lambda r: _edit(
            r / "conf/pipeline/train_iris.yaml",
            "  model: IrisClassifier\n",
            "  model: IrisClassifier\ndata:\n  table: IrisTable\n",
        ),  # fmt: skip
        lambda r: _edit(r / "dvc.yaml", "data/irisv1_dataset_v1.parquet", "data/iris.parquet"),
        lambda r: _write(r / "data/IrisTable_v1.parquet", "x"),
    ],
    "RAW-DATA": [
        lambda r: _write(r / "datasets/iris/rows.txt", "a,b,c\n1,2,3\n4,5,6\n7,8,9\n"),
        lambda r: _write(r / "notes/events.log", '{"a": 1}\n{"a": 2}\n{"a": 3}\n'),
        lambda r: (r / "models/IrisClassifier/w.bin").write_bytes(b"\x93NUMPY\x01\x00" + b"0" * 64),
        lambda r: (r / "models/IrisClassifier/t.txt").write_bytes(b"PAR1" + b"0" * 64),
        lambda r: (r / "models/IrisClassifier/m.bin").write_bytes(b"\x80\x04\x95" + b"0" * 64),
        lambda r: (r / "models/IrisClassifier/h.bin").write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 64),
        lambda r: (r / f"{MODEL}/logo.svg.bak").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100_000),
        lambda r: _write(r / "deploy/IrisClassifier/V1/sample-input.csv", "a,b\n" + "1,2\n" * 200_000),
        lambda r: _write(r / "datasets/iris/rows.csv", "a,b\n1,2\n"),
        lambda r: _write(r / "models/IrisClassifier/weights.npy", "x"),
        lambda r: _write(r / "notes/big.txt", "x" * 600 * 1024),
        # Text shapes, whatever the extension (issue 21): the Iris table as JSON records...
        lambda r: _write(r / "datasets/iris/rows.json", json.dumps(_iris())),
        lambda r: _write(r / "datasets/iris/rows.json", json.dumps(_iris() * 10, indent=2)),  # > 64 KiB
        lambda r: _write(r / "datasets/iris/rows.json", "".join(json.dumps(x) + "\n" for x in _iris())),
        lambda r: _write(r / "datasets/iris/rows.json", json.dumps([list(x.values()) for x in _iris()])),
        lambda r: _write(r / "datasets/iris/rows.json", json.dumps({"source": "UCI", "rows": _iris()})),
        lambda r: _write(r / "datasets/iris/rows.ndjson", "[5.1, 3.5]\n[4.9, 3.0]\n[4.7, 3.2]\n"),
        # ... as YAML lists of records (block, flow, nested in a mapping) ...
        lambda r: _write(r / "datasets/iris/rows.yaml", yaml.safe_dump(_iris(), sort_keys=False)),
        lambda r: _write(r / "datasets/iris/rows.yml", "".join(f"- {json.dumps(x)}\n" for x in _iris())),
        lambda r: _write(r / "datasets/iris/rows.yaml", yaml.safe_dump({"rows": _iris() * 5})),  # > 64 KiB
        # ... and delimited text under any extension.
        lambda r: _write(r / "datasets/iris/rows.dat", "a\tb\tc\n1\t2\t3\n4\t5\t6\n"),
        lambda r: _write(r / "datasets/iris/rows.md", "a,b,c\n1,2,3\n4,5,6\n7,8,9\n"),
        lambda r: _write(r / "datasets/iris/rows.json", "a;b;c\n1;2;3\n4;5;6\n7;8;9\n"),
        lambda r: _write(r / "conf/tables/iris.yaml", yaml.safe_dump({"rows": _iris()})),  # conf/ hides none
    ],
    "PIPFILE-LOCK": [
        lambda r: _edit(r / "Pipfile", "[dev-packages]\n", '[dev-packages]\nblack = "*"\n'),
        lambda r: _drop_from_lock(r, "develop", "pytest"),
        lambda r: _edit(r / "Pipfile.lock", '"version": "==1.3.8"', '"version": "==1.2.0"'),
    ],
    "PIPFILE-OWNER": [
        lambda r: (r / ".github/CODEOWNERS").unlink(),
        lambda r: _edit(
            r / ".github/CODEOWNERS", "/Pipfile.lock             @dev-director", "/Pipfile.lock @someone"
        ),
    ],
    "PARSE": [lambda r: _write(r / "datasets/iris/dataset.py", '"""Broken."""\ndef (:\n')],
    "PLACEHOLDER": [
        lambda r: _write(r / "datasets/iris/dataset.py", '"""TODO"""\n'),
        lambda r: _edit(r / "datasets/iris/dataset.py", "Return the rows.", "TBD"),
        lambda r: _edit(r / "datasets/iris/dataset.py", "    return []\n", "    ...\n"),
        lambda r: _edit(r / f"{MODEL}/__init__.py", "## Motivation\n", "## Motivation\n\n<describe why>\n"),
        lambda r: _edit(r / f"{MODEL}/__init__.py", "## Diagram", "## Changes\n\n## Diagram"),
        lambda r: _write(r / "train/iris/steps/split.py", '"""Split."""\n\n# FIXME: stratify\n'),
    ],
    "PIPELINE-RETURN": [
        lambda r: _edit(r / "train/iris/pipeline.py", "    return dict(config)\n", ""),
        lambda r: _edit(
            r / "train/iris/pipeline.py",
            "    return dict(config)\n",
            "    if config:\n        return dict(config)\n",
        ),
    ],
    "NOTEBOOK-PLACE": [
        lambda r: _notebook(r / "sketch.ipynb", "print(1)\n"),
        lambda r: _notebook(r / "datasets/iris/explore.ipynb", "print(1)\n"),
        lambda r: _notebook(r / "train/iris/notebooks/try.ipynb", "print(1)\n"),
    ],
    "NOTEBOOK-OUTPUTS": [
        lambda r: _notebook(r / f"{NOTEBOOKS}/explore.ipynb", "print(2 + 2)\n", outputs=True),
    ],
    "NOTEBOOK-LINT": [
        lambda r: _notebook(r / f"{NOTEBOOKS}/explore.ipynb", "import os, sys\n"),
        lambda r: _notebook(r / f"{MODEL}/notebooks/fit.ipynb", "x = 1\n", "print(y)\n"),
    ],
    "NOTEBOOK-IMPORT": [
        lambda r: _notebook(r / f"{NOTEBOOKS}/explore.ipynb", "import torch\n\nprint(torch)\n"),
        lambda r: _notebook(r / f"{NOTEBOOKS}/explore.ipynb", "from pip import main\n\nprint(main)\n"),
    ],
    "DEPLOY-SHAPE": [
        lambda r: _write(r / "deploy/IrisClassifier/v2/service.py", '"""S."""\n'),
        lambda r: _write(r / "deploy/IrisClassifier/V2.1/service.py", '"""S."""\n'),
        lambda r: _write(r / "deploy/IrisClassifier/V01/service.py", '"""S."""\n'),
        lambda r: _write(r / "deploy/WineClassifier/V1/service.py", '"""S."""\n'),
    ],
}


def _iris() -> list[dict]:
    """The Iris table as records (150 rows), as a JSON or YAML dump of it would hold them."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    return [
        {k: (float(v) if k != "target" else int(v)) for k, v in row.items()} for _, row in frame.iterrows()
    ]


def _structured_files(root: Path) -> None:
    """The repository's own structured files, and small configs that hold a few records: none is data."""
    from conftest import ROOT

    for name in (".pre-commit-config.yaml", ".secrets.baseline", "dvc.lock", "conf/config.yaml",
                 *(str(p.relative_to(ROOT)) for p in (ROOT / "conf").glob("[!p]*/*.yaml"))):  # fmt: skip
        _write(root / name, (ROOT / name).read_text())
    cells = [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": f"Step {i}, {i + 1}"}
             for i in range(30)]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # a valid one: ruff reads it
    _write(root / "datasets/iris/notebooks/explore.ipynb", json.dumps(notebook))
    _write(root / "docs/package.json", json.dumps({"name": "docs", "dependencies": {"mermaid": "11.4.1"}}))
    example = [{"sepal_length": 5.1, "sepal_width": 3.5}, {"sepal_length": 4.9, "sepal_width": 3.0}] * 2
    openapi = {"openapi": "3.1.0", "paths": {"/predict": {"post": {"requestBody": {"content": {
        "application/json": {"example": example}}}}}}}  # fmt: skip
    _write(root / "docs/openapi-sample.json", json.dumps(openapi, indent=2))
    env = "".join(f"        - name: VAR_{i}\n          value: '{i}'\n" for i in range(5))
    _write(root / "docs/manifest.yaml", f"spec:\n  containers:\n    - name: api\n      env:\n{env}")
    _write(
        root / "docs/results.md",
        "| C | accuracy |\n|---|---|\n| 0.5 | 0.93 |\n| 1.0 | 0.97 |\n| 2 | 0.96 |\n",
    )
    _write(root / "docs/rows.yaml", "- a: 1\n  b: 2\n- a: 3\n  b: 4\n")  # two rows: a sample, not a table


def _drop_from_lock(root: Path, category: str, name: str) -> None:
    """Hand-patch the lock: a package gone, the hash left as it was."""
    lock = json.loads((root / "Pipfile.lock").read_text())
    del lock[category][name]
    (root / "Pipfile.lock").write_text(json.dumps(lock, indent=4))


CASES = [(rule, i) for rule, breaks in BREAKS.items() for i in range(len(breaks))]


def _second_deploy(root: Path) -> None:
    """A complete V2 deploy with a JSON sample input, and a vendored docs asset over the size limit."""
    folder = root / "deploy/IrisClassifier/V2"
    _write(folder / "sample-input.json", "[]")
    for name in ("create_bento_model.py", "common.py", "service.py"):
        _write(folder / name, '"""x."""\n')
    _write(folder / "ecr.sh", "#!/bin/sh\n")
    (folder / "ecr.sh").chmod(0o755)
    _write(folder / "deploy.yaml", "replicas: 1\n")
    _write(root / "docs/vendor/mermaid/mermaid.min.js", "x" * 600 * 1024)


KEEPS: dict[str, Callable[[Path], None]] = {
    "spanish headings": lambda r: [
        _edit(r / f"{MODEL}/__init__.py", f"## {en}", f"## {es}")
        for en, es in (
            ("Description", "Descripción"),
            ("Explanation", "Explicación"),
            ("Motivation", "Motivación"),
            ("Diagram", "Diagrama"),
        )
    ],
    "pair-named pipeline": lambda r: _write(
        r / "conf/pipeline/cnnv1-irisv1.yaml", "# @package _global_\npipeline:\n  code: iris\n"
    ),
    "estudy, study and dataset tasks": lambda r: [
        _write(
            r / f"conf/pipeline/{n}.yaml",
            f"# @package _global_\npipeline:\n  name: {n}\n  code: iris\n"
            + ("study:\n  of: best:train_iris\n" if "study" in n else ""),  # a study names what it studies
        )
        for n in ("estudy_iris", "study_iris", "dataset_iris")
    ],
    "train returns on every path": lambda r: _edit(
        r / "train/iris/pipeline.py",
        "    return dict(config)\n",
        "    if config:\n        return dict(config)\n    raise ValueError('empty')\n",
    ),
    "a small image, prose with commas, a good table name": lambda r: (
        (r / "docs").mkdir(),
        (r / "docs/icon.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 1000),
        _write(r / "docs/notes.txt", "One, two.\nThree, four.\nFive, six.\n"),
        _edit(
            r / "conf/pipeline/train_iris.yaml",
            "  model: IrisClassifier\n",
            "  model: IrisClassifier\ndata:\n  table: irisv1_dataset_v1\n",
        ),  # fmt: skip
    ),
    "notebooks in their places: stdlib, project, locked, aliased and local imports, magics": lambda r: (
        _write(r / f"{NOTEBOOKS}/helpers.py", '"""Helpers for the Iris notebooks."""\n'),
        _notebook(
            r / f"{NOTEBOOKS}/explore.ipynb",
            "%matplotlib inline\nimport json\n\nimport helpers\nimport matplotlib.pyplot as plt\n"
            "import sklearn\nimport yaml\n\nfrom datasets.iris.dataset import load\n",
            "print(json, helpers, plt, sklearn, yaml, load)\n",
        ),
        _notebook(
            r / f"{MODEL}/notebooks/sub/fit.ipynb", "from models.IrisClassifier import model\n\nmodel\n"
        ),
    ),  # fmt: skip
    "a study that is a notebook": lambda r: (
        _notebook(r / f"{MODEL}/notebooks/errors.ipynb", "print(1)\n"),
        _write(
            r / "conf/pipeline/estudy_errors.yaml",
            STUDY_NOTEBOOK.format(nb=f"{MODEL}/notebooks/errors.ipynb"),
        ),
    ),
    "private helpers need no docstring": lambda r: _write(
        r / "datasets/iris/common.py", '"""Names."""\n\n\ndef _helper():\n    return 1\n'
    ),
    "sample input and vendored docs are allowed": lambda r: _second_deploy(r),
    "a DVC pointer is not data": lambda r: _write(
        r / "datasets/iris/raw.csv.dvc", "outs:\n- md5: x\n  path: raw.csv\n"
    ),
    "the repository's structured files and small configs are not data": _structured_files,
    "a table under data/": lambda r: _write(r / "data/irisv1_dataset_v2.parquet", "x"),
    "diagram regenerated after a change": lambda r: (
        _edit(
            r / f"{MODEL}/model.py",
            "def build(self) -> Pipeline:",
            "def build(self, n: int = 1) -> Pipeline:",
        ),
        subprocess.run([sys.executable, "-m", "mlrepo", "diagrams", "--root", str(r)], check=True),
    ),
}


def test_fixture_tree_is_clean(tmp_path: Path) -> None:
    """The baseline fixture follows every rule, so each case below isolates one."""
    assert checks.run(make_repo(tmp_path)) == []


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_rule_catches_violation(tmp_path: Path, rule: str, case: int) -> None:
    """Each way of breaking a rule is reported under that rule's id, with a path and line."""
    repo = make_repo(tmp_path)
    BREAKS[rule][case](repo)
    found = checks.run(repo)
    assert rule in {v.rule for v in found}, checks.report(found)
    assert all(v.line >= 1 and not v.path.startswith("/") for v in found)


@pytest.mark.parametrize("name", list(KEEPS))
def test_rule_accepts_compliant_variant(tmp_path: Path, name: str) -> None:
    """Compliant variations (Spanish headings, other naming forms, allow-listed files) stay clean."""
    repo = make_repo(tmp_path)
    KEEPS[name](repo)
    found = checks.run(repo)
    assert found == [], checks.report(found)


def test_every_rule_has_a_failing_case() -> None:
    """A rule without a violating fixture is an untested rule."""
    assert set(checks.RULES) - {"MODEL-CHANGES"} <= set(BREAKS)


def test_changes_section_required_once_model_changed(tmp_path: Path) -> None:
    """MODEL-CHANGES: a committed edit of model.py (or an uncommitted one) asks for a Changes section."""
    repo = make_repo(tmp_path, git=True)
    assert rule_ids(repo) == set()
    _edit(repo / f"{MODEL}/model.py", "self.seed = seed", "self.seed = int(seed)")
    assert "MODEL-CHANGES" in rule_ids(repo)  # uncommitted: pre-commit catches it
    commit(repo, "change the model")
    assert "MODEL-CHANGES" in rule_ids(repo)
    _edit(repo / f"{MODEL}/__init__.py", "## Diagram", "## Changes\n\n- seed cast to int.\n\n## Diagram")
    assert rule_ids(repo) == set()
    _edit(repo / f"{MODEL}/__init__.py", "## Changes", "## Cambios")
    assert rule_ids(repo) == set()


def test_raw_data_committed_in_git(tmp_path: Path) -> None:
    """RAW-DATA sees files git tracks (also outside data/), a DVC output included, until it leaves git."""
    repo = make_repo(tmp_path, git=True)
    _write(repo / "reports/scores.parquet", "x")
    commit(repo, "data in git")
    assert "RAW-DATA" in rule_ids(repo)
    out = "      - data/irisv1_dataset_v1.parquet\n"
    _edit(repo / "dvc.yaml", out, out + "      - reports/scores.parquet\n")
    assert "RAW-DATA" in rule_ids(repo)  # a DVC output force-added to git is still data in git
    subprocess.run(["git", "rm", "-q", "--cached", "reports/scores.parquet"], cwd=repo, check=True)
    (repo / ".gitignore").write_text("/reports/scores.parquet\n")
    assert rule_ids(repo) == set()


def test_cli_reports_rule_path_line_and_fix(tmp_path: Path) -> None:
    """`python -m mlrepo check` prints `RULE-ID path:line message`, a fix line, and exits 1; 0 when clean."""
    repo = make_repo(tmp_path)
    clean = mlrepo("check", "--root", str(repo))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    _edit(repo / "train/iris/pipeline.py", "def train(config: DictConfig)", "def fit(config: DictConfig)")
    done = mlrepo("check", "--root", str(repo))
    assert done.returncode == 1
    assert "PIPELINE-ENTRY train/iris/pipeline.py:1 no module-level function `train`" in done.stdout
    assert "    fix: define `def train(config: DictConfig):`" in done.stdout
    only = mlrepo("check", "--root", str(repo), "--rule", "DOCSTRING")
    assert only.returncode == 0


def test_cli_user_mistakes_exit_2_without_traceback(tmp_path: Path) -> None:
    """An unknown rule id or a missing root is one paragraph and exit code 2."""
    for args in (("check", "--rule", "NOPE"), ("check", "--root", str(tmp_path / "missing"))):
        done = mlrepo(*args)
        assert done.returncode == 2
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_real_repository_passes_its_gates() -> None:
    """The repository itself follows its rules (run from the checkout under test)."""
    found = checks.run(Path(__file__).resolve().parent.parent)
    assert found == [], checks.report(found)


def test_notebook_rules_read_a_git_revision_as_data(tmp_path: Path) -> None:
    """pr-check reads the head from git: the notebook goes to ruff on stdin, its imports from the blob."""
    from mlrepo.govern.checks.base import Repo

    repo = make_repo(tmp_path, git=True)
    _notebook(repo / f"{NOTEBOOKS}/explore.ipynb", "import os, torch\n")
    commit(repo, "a notebook that breaks the rules")
    (repo / f"{NOTEBOOKS}/explore.ipynb").unlink()  # the working tree no longer has it: git is read
    found = checks.check_repo(Repo.open(repo, rev="HEAD"))
    messages = {(v.rule, v.path) for v in found}
    assert ("NOTEBOOK-LINT", f"{NOTEBOOKS}/explore.ipynb") in messages, checks.report(found)
    assert ("NOTEBOOK-IMPORT", f"{NOTEBOOKS}/explore.ipynb") in messages, checks.report(found)
