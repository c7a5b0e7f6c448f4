"""A study that is a notebook (`pipeline.notebook`, mlrepo/run/notebook.py): executed headless as
a tracked run with its config injected, logged with its HTML rendering and linked from the card,
cached by its identity, run again when a cell changes, FAILED in one paragraph when a cell raises."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, copy_repo, runs, train

from mlrepo.run import identity

NOTEBOOK = "models/IrisClassifier/notebooks/errors.ipynb"
STUDY = "estudy_iris_errors"


def _edit_cell(repo: Path, old: str, new: str) -> None:
    path = repo / NOTEBOOK
    notebook = json.loads(path.read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    at = next(i for i, s in enumerate(sources) if old in s)
    notebook["cells"][at]["source"] = sources[at].replace(old, new)
    path.write_text(json.dumps(notebook, indent=1))


def test_the_code_digest_is_the_notebook_and_what_its_cells_import() -> None:
    """The notebook's bytes and the project files its code cells import, transitively; not the rest."""
    files = {str(p.relative_to(ROOT)) for p in identity.notebook_sources(NOTEBOOK)}
    assert {NOTEBOOK, "train/iris/steps/split.py", "datasets/iris/common.py", "mlrepo/run/tasks.py"} <= files
    assert "models/IrisClassifier/model.py" not in files and "train/iris/pipeline.py" not in files


@pytest.mark.slow
def test_a_notebook_study_runs_is_cached_reruns_on_a_cell_change_and_fails_in_one_paragraph(
    tmp_path: Path, tracking_uri: str
) -> None:
    """FINISHED with its artifacts and card links, then cached, then a new run once a cell changed;
    a cell that raises ends the run FAILED with the cell and its error in one paragraph."""
    from mlflow.tracking import MlflowClient

    repo = copy_repo(tmp_path / "repo")
    assert train("pipeline=train_iris", cwd=repo).returncode == 0

    first = train(f"pipeline={STUDY}", cwd=repo)
    assert first.returncode == 0 and "FINISHED" in first.stdout, first.stdout + first.stderr
    assert "without encryption" not in first.stderr and "Executing notebook" not in first.stderr
    (run,) = runs(tracking_uri, STUDY)
    assert run.info.status == "FINISHED" and run.data.tags["study.notebook"] == NOTEBOOK
    assert run.data.tags["study.of"] and {"errors", "test_accuracy"} <= set(run.data.metrics)
    client = MlflowClient(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        executed = json.loads(
            Path(client.download_artifacts(run.info.run_id, "notebook/errors.ipynb", tmp)).read_text()
        )
        html = Path(client.download_artifacts(run.info.run_id, "notebook/errors.html", tmp)).read_text()
        card = Path(client.download_artifacts(run.info.run_id, "card.html", tmp)).read_text()
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and run.data.tags["study.of"] in "".join(injected[0]["source"])
    assert all(
        not [o for o in c.get("outputs", []) if o["output_type"] == "error"] for c in executed["cells"]
    )
    assert "errors on" in html and "<img" in html
    assert 'href="notebook/errors.html"' in card and 'href="notebook/errors.ipynb"' in card
    assert any(
        a.path.startswith("plots/errors-cell") for a in client.list_artifacts(run.info.run_id, "plots")
    )

    again = train(f"pipeline={STUDY}", cwd=repo)
    assert again.returncode == 0 and "Cached:" in again.stdout, again.stdout + again.stderr
    assert len(runs(tracking_uri, STUDY)) == 1

    _edit_cell(repo, "The studied run on its own test split", "The studied run on its held-out rows")
    changed = train(f"pipeline={STUDY}", cwd=repo)
    assert changed.returncode == 0 and "Cached:" not in changed.stdout, changed.stdout + changed.stderr
    newest, oldest = runs(tracking_uri, STUDY)
    assert newest.data.tags["run.uid"] != oldest.data.tags["run.uid"]

    _edit_cell(repo, "wrong = x_test", 'raise KeyError("petal_area")\nwrong = x_test')
    failed = train(f"pipeline={STUDY}", cwd=repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr
    message = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(message) == 1 and "code cell 3 (`studied = tasks.studied_run(config)`)" in message[0], (
        failed.stderr
    )
    assert "KeyError: 'petal_area'" in message[0] and "notebook/errors.ipynb" in message[0]
    latest = runs(tracking_uri, STUDY)[0]
    assert latest.info.status == "FAILED" and "petal_area" in latest.data.tags["mlrepo.error"]
    assert any(
        a.path == "notebook/errors.html" for a in client.list_artifacts(latest.info.run_id, "notebook")
    )
