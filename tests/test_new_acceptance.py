"""Acceptance: a new user adds wine / WineForest / rfv1-winev1 on a throwaway clone, end to end.

Scaffold the three kinds, write the few lines a user must write, then: the checker lists the
placeholders and is clean once they are filled, the pipeline trains (FINISHED, accuracy >= 0.9),
an identical rerun is cached, a 3-point sweep runs, a deploy is scaffolded, the result commits
on its piece's branch and passes the pull-request gates, the Bento model is imported and served
(a request of JSON integers answered 200), and `make docs` has the model's page and diagram.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT, runs, train
from deploy_support import free_port, post, running, wait_http
from scale_support import sweep_outputs

pytestmark = pytest.mark.slow

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip

USER_EDITS = {
    "datasets/wine/__init__.py": [
        ("TODO: say in one line what its rows are and where they come from.",
         "178 Italian wines: 13 chemical measurements and their cultivar (scikit-learn's copy)."),
    ],
    "datasets/wine/dataset.py": [
        ("TODO: say where the wine rows come from (one row per example).",
         "Load scikit-learn's bundled wine data: 13 measurements and the cultivar."),
        ('    raise NotImplementedError("TODO: load the wine rows and return them as a DataFrame")',
         "    from sklearn.datasets import load_wine\n\n    return load_wine(as_frame=True).frame"),
    ],
    "models/WineForest/__init__.py": [
        ("<describe in one line what WineForest predicts, and from what>",
         "the cultivar of a wine from its chemistry"),
        ("<describe the model: what it predicts, from which inputs, and which pipeline trains it>",
         "A random forest predicting one of three cultivars from 13 measurements (pipeline rfv1-winev1)."),
        ("<describe how it works: the estimator, its parameters, the maths if any>",
         "Many decision trees vote; `n_estimators` sets how many trees the forest grows."),
        ("<describe why this model: the problem it solves and why this approach>",
         "Forests need no scaling and handle correlated measurements well on small tables."),
    ],
    "models/WineForest/model.py": [
        ("from sklearn.base import BaseEstimator\n",
         "from sklearn.base import BaseEstimator\nfrom sklearn.ensemble import RandomForestClassifier\n"),
        ("        seed: the random seed.\n",
         "        n_estimators: how many trees the forest grows.\n        seed: the random seed.\n"),
        ("def __init__(self, seed: int = 0) -> None:\n",
         "def __init__(self, n_estimators: int = 100, seed: int = 0) -> None:\n"
         "        self.n_estimators = n_estimators\n"),
        ("Return the unfitted estimator (TODO: say which).", "Return an unfitted random forest."),
        ('        raise NotImplementedError("TODO: return the unfitted estimator, '
         'e.g. a RandomForestClassifier")',
         "        return RandomForestClassifier(n_estimators=self.n_estimators, random_state=self.seed)"),
    ],
    "conf/pipeline/rfv1-winev1.yaml": [("  seed: 0\n", "  n_estimators: 100\n  seed: 0\n")],
}  # fmt: skip
"""What the user writes: (generated text, the user's text) per file."""


def write_user_code(root: Path) -> int:
    """Apply `USER_EDITS` under `root`; return how many lines the user wrote (added or changed)."""
    written = 0
    for path, edits in USER_EDITS.items():
        before = (root / path).read_text()
        text = before
        for old, new in edits:
            assert old in text, f"{path}: the template no longer has {old!r}"
            text = text.replace(old, new)
        (root / path).write_text(text)
        diff = difflib.unified_diff(before.splitlines(), text.splitlines(), lineterm="", n=0)
        written += sum(
            1 for line in diff if line.startswith("+") and not line.startswith("+++") and line.strip("+ ")
        )
    return written


def clone_with_venv(dest: Path) -> Path:
    """A throwaway clone of this repository's last commit, using this repository's .venv."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def mlrepo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m mlrepo ARGS` in `root`, as a user runs it."""
    return subprocess.run([str(root / ".venv/bin/python"), "-m", "mlrepo", *args], cwd=root,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_user_adds_wine_in_a_few_lines_and_it_trains_sweeps_and_commits(tmp_path, tracking_uri):
    repo = clone_with_venv(tmp_path / "clone")
    for args in (("dataset", "wine"), ("model", "WineForest"),
                 ("pipeline", "rfv1-winev1", "--model", "WineForest", "--dataset", "wine")):  # fmt: skip
        done = mlrepo(repo, "new", *args)
        assert done.returncode == 0, done.stderr
        assert "next:" in done.stdout

    # At birth the checker lists only the places to fill (one rule: PLACEHOLDER).
    done = mlrepo(repo, "check")
    rules = {m[1] for m in re.finditer(r"^([A-Z][A-Z-]+) \S+:\d+ ", done.stdout, re.MULTILINE)}
    assert done.returncode == 1 and rules == {"PLACEHOLDER"}, done.stdout
    assert "datasets/wine/dataset.py" in done.stdout and "models/WineForest/model.py" in done.stdout

    lines = write_user_code(repo)
    print(f"lines the user wrote for wine end to end: {lines}")
    assert lines < 60
    assert mlrepo(repo, "diagrams").returncode == 0  # the constructor gained n_estimators
    done = mlrepo(repo, "check")
    assert done.returncode == 0, done.stdout

    first = train("pipeline=rfv1-winev1", cwd=repo)
    assert first.returncode == 0, first.stderr
    (run,) = runs(tracking_uri, "rfv1-winev1")
    assert run.info.status == "FINISHED" and run.data.metrics["accuracy"] >= 0.9
    assert run.data.tags["dataset.version"] == "v1"

    again = train("pipeline=rfv1-winev1", cwd=repo)
    assert again.returncode == 0 and "Cached" in again.stdout
    assert len(runs(tracking_uri, "rfv1-winev1")) == 1

    swept = train(
        "-m", "pipeline=rfv1-winev1", "model.n_estimators=10,30,60", sweep_outputs(tmp_path), cwd=repo
    )
    assert swept.returncode == 0, swept.stderr
    children = [r for r in runs(tracking_uri, "rfv1-winev1") if r.data.tags.get("sweep.id") and
                r.data.params.get("model.n_estimators") in {"10", "30", "60"}]  # fmt: skip
    assert len(children) == 3 and all(r.info.status == "FINISHED" for r in children)

    # A deploy of the model: generated whole (its sample rows are the best run's input example).
    done = mlrepo(repo, "new", "deploy", "WineForest")
    assert done.returncode == 0, done.stderr
    assert "make bento-model MODEL=WineForest/V1" in done.stdout
    assert "magnesium" in (repo / "deploy/WineForest/V1/sample-input.csv").read_text()

    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "checkout", "-q", "-b", "model/WineForest"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "Add WineForest on wine"], cwd=repo, check=True, env=env)
    assert mlrepo(repo, "check").returncode == 0
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status.strip() in ("", "?? .venv"), status

    # The pull-request gates pass: the cached run made before the commit holds the head's model.
    body = tmp_path / "pr.md"
    body.write_text(
        "## Description\n\nAdds the wine dataset, a random forest model, its pipeline and a deploy.\n\n"
        "## Motivation\n\nThe team wants to classify wine cultivars from their chemical analysis.\n\n"
        f"## Run\n\n{run.info.run_id}\n"
    )
    gates = mlrepo(repo, "pr-check", "--base", "main", "--body", str(body))
    assert gates.returncode == 0, gates.stdout + gates.stderr

    # Shipped: imported into a throwaway BentoML store, served, a request of JSON integers answered.
    bento_env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "PYTHONPATH": str(repo)}
    imported = subprocess.run(
        [PYTHON, "deploy/WineForest/V1/create_bento_model.py"], cwd=repo, env=bento_env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    port = free_port()
    serve = [
        PYTHON,
        "-m",
        "bentoml",
        "serve",
        "service:WineForest",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with running(serve, tmp_path / "serve.log", cwd=repo / "deploy/WineForest/V1", env=bento_env) as proc:
        wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
        import pandas as pd

        record = pd.read_csv(repo / "deploy/WineForest/V1/sample-input.csv").iloc[0].to_dict()
        record = {k: int(round(v)) for k, v in record.items()}  # JSON integers where doubles are expected
        status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": [record]}).encode())
        assert status == 200, text
        assert len(json.loads(text)["predictions"]) == 1

    # The docs have the model's page with its class diagram.
    docs = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.synced", "docs", f"DOCS_OUT={tmp_path / 'site'}"],
        cwd=repo, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert docs.returncode == 0, docs.stdout + docs.stderr
    page = next((tmp_path / "site").rglob("WineForest.html"), None)
    assert page is not None, sorted(p.name for p in (tmp_path / "site").rglob("*.html"))
    assert "classDiagram" in page.read_text() and "n_estimators" in page.read_text()
