"""Acceptance: a new user adds wine / WineForest / rfv1-winev1 on a throwaway clone, end to end;
and a regression, estate / EstateModel / gbv1-estatev1 (a float target and a string column).

Scaffold the three kinds, write the few lines a user must write, then: the checker lists the
placeholders and is clean once they are filled, the pipeline trains (FINISHED, accuracy >= 0.9),
an identical rerun is cached, a 3-point sweep runs, a deploy is scaffolded, the result commits
on its piece's branch and passes the pull-request gates, the Bento model is imported and served
(a request of JSON integers answered 200), and `make docs` has the model's page and diagram.
The regression: the task kind inferred, a 3-point sweep, the deploy ships the LOWEST rmse, an
unseen district answered 400; the lines the user wrote are printed (goal: at most 25).
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
    return write_edits(root, USER_EDITS)


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
    base = subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True)
    base = base.stdout.strip()  # the clone's branch (main, or the branch a worktree is on): the base
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
    assert_pr_passes(repo, base, tmp_path / "pr.md", run.info.run_id,
                     "Adds the wine dataset, a random forest model, its pipeline and a deploy.",
                     "The team wants to classify wine cultivars from their chemical analysis.")  # fmt: skip

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


REGRESSION_EDITS = {
    "datasets/estate/__init__.py": [
        ("TODO: say in one line what its rows are and where they come from.",
         "400 synthetic house sales: area, rooms, district and price (generated, no network)."),
    ],
    "datasets/estate/dataset.py": [
        ("import pandas as pd\n", "import numpy as np\nimport pandas as pd\n"),
        ("TODO: say where the estate rows come from (one row per example).",
         "Generate 400 sales whose price follows the area and the district, with noise."),
        ('    raise NotImplementedError("TODO: load the estate rows and return them as a DataFrame")',
         "    rng = np.random.default_rng(0)\n"
         '    area, district = rng.uniform(30, 200, 400), rng.choice(["north", "south", "east"], 400)\n'
         '    price = area * np.where(district == "north", 3e3, 2e3) + rng.normal(0, 9e3, 400)\n'
         '    return pd.DataFrame({"area": area, "rooms": area // 30, "district": district, TARGET: price})'),
    ],
    "models/EstateModel/__init__.py": [
        ("<describe in one line what EstateModel predicts, and from what>",
         "the sale price of a house from its area, rooms and district"),
        ("<describe the model: what it predicts, from which inputs, and which pipeline trains it>",
         "Gradient-boosted trees predicting the price from three columns (pipeline gbv1-estatev1)."),
        ("<describe how it works: the estimator, its parameters, the maths if any>",
         "The district is one-hot encoded; `max_iter` trees are fitted, each on the last residuals."),
        ("<describe why this model: the problem it solves and why this approach>",
         "Boosted trees capture the price per district without any feature engineering."),
    ],
    "models/EstateModel/model.py": [
        ("from sklearn.base import BaseEstimator\n",
         "from sklearn import compose, ensemble, pipeline, preprocessing\n"
         "from sklearn.base import BaseEstimator\n"),
        ("        seed: the random seed.\n",
         "        max_iter: how many trees.\n        seed: the random seed.\n"),
        ("def __init__(self, seed: int = 0) -> None:\n",
         "def __init__(self, max_iter: int = 100, seed: int = 0) -> None:\n"
         "        self.max_iter = max_iter\n"),
        ("Return the unfitted estimator (TODO: say which).", "Return one-hot districts into boosted trees."),
        ('        raise NotImplementedError("TODO: return the unfitted estimator, '
         'e.g. a RandomForestClassifier")',
         '        onehot = preprocessing.OneHotEncoder(handle_unknown="ignore", sparse_output=False)\n'
         '        encode = compose.make_column_transformer((onehot, ["district"]), remainder="passthrough")\n'
         "        boost = ensemble.HistGradientBoostingRegressor\n"
         "        trees = boost(max_iter=self.max_iter, random_state=self.seed)\n"
         "        return pipeline.make_pipeline(encode, trees)"),
    ],
}  # fmt: skip
"""What the user writes for the regression scenario: only load_frame(), build() and the docstrings."""


def test_a_user_adds_a_regression_in_a_few_lines_and_the_lowest_rmse_ships(tmp_path, tracking_uri):
    from mlflow.tracking import MlflowClient

    repo = clone_with_venv(tmp_path / "clone")
    base = subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True)
    base = base.stdout.strip()  # the clone's branch: the pull request's base
    edits = dict(REGRESSION_EDITS)
    lines = 0
    # The order the next steps say: the dataset's rows first, then the model, then the pipeline (whose
    # task kind is inferred from the float target, and whose model: block is the model's arguments).
    for args, folder in (
        (("dataset", "estate"), "datasets/estate/"),
        (("model", "EstateModel"), "models/EstateModel/"),
    ):
        done = mlrepo(repo, "new", *args)
        assert done.returncode == 0, done.stderr
        lines += write_edits(repo, {p: e for p, e in edits.items() if p.startswith(folder)})
    done = mlrepo(repo, "new", "pipeline", "gbv1-estatev1", "--model", "EstateModel", "--dataset", "estate")
    assert done.returncode == 0, done.stderr
    assert "task: regression (inferred: datasets/estate's target 'target' is float64)" in done.stdout
    print(f"lines the user wrote for the regression end to end: {lines}")
    assert lines <= 25
    import yaml

    config = yaml.safe_load((repo / "conf/pipeline/gbv1-estatev1.yaml").read_text())
    assert config["model"] == {"max_iter": 100, "seed": 0}
    assert config["pipeline"]["metric"] == {"name": "rmse", "goal": "minimize"}
    assert mlrepo(repo, "diagrams").returncode == 0  # the constructor gained max_iter
    checked = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", "check"], cwd=repo,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

    first = train("pipeline=gbv1-estatev1", cwd=repo)
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = runs(tracking_uri, "gbv1-estatev1")
    assert run.info.status == "FINISHED" and {"rmse", "mae", "r2"} <= set(run.data.metrics)

    swept = train(
        "-m", "pipeline=gbv1-estatev1", "model.max_iter=3,20,100", sweep_outputs(tmp_path), cwd=repo
    )  # the 100 job is the first run: reported as cached
    assert swept.returncode == 0, swept.stderr[-3000:]
    found = runs(tracking_uri, "gbv1-estatev1")
    trained = [r for r in found if "run.uid" in r.data.tags]
    assert len(trained) == 3 and all(r.info.status == "FINISHED" for r in trained)
    lowest = min(trained, key=lambda r: r.data.metrics["rmse"])
    assert lowest.data.metrics["rmse"] < max(r.data.metrics["rmse"] for r in trained)
    (parent,) = [r for r in found if "run.uid" not in r.data.tags]
    card = MlflowClient(tracking_uri).download_artifacts(parent.info.run_id, "card.html", str(tmp_path))
    text = Path(card).read_text()
    assert "Sweep: 3 jobs" in text and "best by rmse (minimize)" in text and lowest.info.run_id[:8] in text
    assert f"best: run {lowest.info.run_id} rmse=" in swept.stderr  # the sweep's summary line too

    done = mlrepo(repo, "new", "deploy", "EstateModel")
    assert done.returncode == 0, done.stderr
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "checkout", "-q", "-b", "model/EstateModel"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "Add EstateModel on estate"], cwd=repo, check=True, env=env)

    bento_env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "PYTHONPATH": str(repo)}
    imported = subprocess.run(
        [PYTHON, "deploy/EstateModel/V1/create_bento_model.py", "--output-env", str(tmp_path / "model.env")],
        cwd=repo, env=bento_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert f"RUN_ID={lowest.info.run_id}" in (tmp_path / "model.env").read_text()  # the LOWEST rmse
    port = free_port()
    serve = [
        PYTHON,
        "-m",
        "bentoml",
        "serve",
        "service:EstateModel",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with running(serve, tmp_path / "serve.log", cwd=repo / "deploy/EstateModel/V1", env=bento_env) as proc:
        wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
        record = {"area": 120, "rooms": 3, "district": "north"}  # JSON integers where doubles are expected
        status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": [record]}).encode())
        assert status == 200, text
        (price,) = json.loads(text)["predictions"]
        assert isinstance(price, float)
        unseen = {**record, "district": "atlantis"}
        status, text = post(f"http://127.0.0.1:{port}/predict", json.dumps({"records": [unseen]}).encode())
        assert status == 400 and "column 'district' is 'atlantis'" in json.loads(text)["error"], text

    assert_pr_passes(
        repo,
        base,
        tmp_path / "pr.md",
        lowest.info.run_id,
        "Adds the estate dataset, a boosted-trees price model, its pipeline, a deploy.",
        "The team wants to estimate house prices from a few facts about each house.",
    )


def assert_pr_passes(repo: Path, base: str, body: Path, run_id: str, description: str, why: str) -> None:
    """Write a PR body in the template's sections (naming the run) and expect the gates to pass."""
    body.write_text(f"## Description\n\n{description}\n\n## Motivation\n\n{why}\n\n## Run\n\n{run_id}\n")
    gates = mlrepo(repo, "pr-check", "--base", base, "--body", str(body))
    assert gates.returncode == 0, gates.stdout + gates.stderr


def write_edits(root: Path, edits: dict[str, list[tuple[str, str]]]) -> int:
    """Apply `edits` ((generated text, the user's text) per file) under `root`; return how many
    lines the user wrote (added or changed)."""
    written = 0
    for path, pairs in edits.items():
        before = (root / path).read_text()
        text = before
        for old, new in pairs:
            assert old in text, f"{path}: the template no longer has {old!r}"
            text = text.replace(old, new)
        (root / path).write_text(text)
        diff = difflib.unified_diff(before.splitlines(), text.splitlines(), lineterm="", n=0)
        written += sum(
            1 for line in diff if line.startswith("+") and not line.startswith("+++") and line.strip("+ ")
        )
    return written
