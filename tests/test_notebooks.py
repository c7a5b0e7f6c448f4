"""The starter notebooks: the example dataset's and model's run top to bottom in a real kernel
(nbclient, the kernel of this environment), from their own folder as Jupyter runs them, and show
their figure; `new dataset` and `new model` scaffold one, stripped and lint-clean."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT

STARTERS = ["datasets/iris/notebooks/explore.ipynb", "models/IrisClassifier/notebooks/explore.ipynb"]
NOTEBOOKS = [*STARTERS, "models/IrisClassifier/notebooks/errors.ipynb"]


def execute(path: Path, timeout: int = 300):  # noqa: ANN201 (a NotebookNode, imported lazily)
    """Run every cell of the notebook at `path` in a fresh kernel started in its folder.

    PYTHONPATH is left out of the kernel's environment: the notebook imports the project's
    packages as a user's would, through the editable install.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    client.execute(env=env)
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("starter", STARTERS)
def test_the_example_starter_notebooks_run_and_show_a_figure(starter: str) -> None:
    """Each code cell runs without error and the notebook displays one PNG figure."""
    ran = execute(ROOT / starter)
    outputs = [out for cell in ran.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert [out for out in outputs if "image/png" in out.get("data", {})], "no figure shown"


@pytest.mark.parametrize("starter", NOTEBOOKS)
def test_the_committed_starters_are_stripped(starter: str) -> None:
    """Committed notebooks carry no outputs and no execution counts (nbstripout's work)."""
    verify = subprocess.run([str(Path(PYTHON).parent / "nbstripout"), "--verify", str(ROOT / starter)])
    assert verify.returncode == 0, "nbstripout (the pre-commit hook) would rewrite it"
    cells = json.loads((ROOT / starter).read_text())["cells"]
    assert all(
        not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code"
    )


def test_new_dataset_and_model_scaffold_a_starter_notebook(tmp_path: Path) -> None:
    """`new dataset wine` then `new model WineForest --dataset wine`: each has notebooks/explore.ipynb,
    valid, stripped, naming the project's own functions, passing ruff."""
    import nbformat

    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    for args in (["dataset", "wine"], ["model", "WineForest", "--dataset", "wine"]):
        done = subprocess.run([PYTHON, "-m", "mlrepo", "new", *args, "--root", str(repo)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
    starters = {
        "datasets/wine/notebooks/explore.ipynb": "from datasets.wine.dataset import build_table",
        "models/WineForest/notebooks/explore.ipynb": "WineForest().build().fit(",
    }
    for path, needle in starters.items():
        notebook = nbformat.read(repo / path, as_version=4)
        nbformat.validate(notebook)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert needle in code and "plt.show()" in code
        assert all(not c.outputs for c in notebook.cells if c.cell_type == "code")
    ruff = subprocess.run(
        [str(Path(PYTHON).parent / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"), *starters],
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    stripped = subprocess.run([str(Path(PYTHON).parent / "nbstripout"), "--verify", *starters], cwd=repo,
                              capture_output=True, text=True)  # fmt: skip
    assert stripped.returncode == 0, f"the pre-commit hook nbstripout would rewrite them: {stripped.stdout}"
