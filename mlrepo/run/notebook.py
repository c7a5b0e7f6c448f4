"""A study that is a notebook: an `estudy_` config names `pipeline.notebook` instead of a
`train/<code>/pipeline.py`, and the runner executes the notebook headless as the run's code.

    # conf/pipeline/estudy_iris_errors.yaml
    pipeline:
      name: estudy_iris_errors
      notebook: models/IrisClassifier/notebooks/errors.ipynb

How it runs, and why:

- **nbclient**, the executor papermill itself uses underneath, already in the lock for the runner
  (papermill would add a dependency for what is one cell). The kernel is this environment's own
  Python (`python3`, whatever kernel the notebook names), started in the notebook's folder, with
  the repository first on `PYTHONPATH` (the checkout's code, as `load_pipeline` imports it).
- **Parameters, papermill-style**: a cell tagged `parameters` holds the defaults (`config = None`);
  a cell tagged `injected-parameters` is inserted after it (at the top when there is none) and
  sets `config` to the run's composed config (an `OmegaConf` object, `study.run_id` resolved).
- **Tracking**: the kernel gets `MLFLOW_TRACKING_URI` and `MLFLOW_RUN_ID`, so what the notebook
  logs (`mlrepo.track.tracking.log_metrics`, figures) goes to the run; the kernel is stopped at
  once afterwards, so MLflow's exit handler in it never ends the runner's run.
- **Artifacts**: the executed notebook (`notebook/<name>.ipynb`, outputs kept) and its HTML
  rendering (`notebook/<name>.html`, nbconvert), logged also when a cell fails; each PNG the
  notebook displays becomes `plots/<name>-cell<N>.png`, so the card shows it. The run is tagged
  `study.notebook=<path>`; the card links both files.
- **Identity**: the notebook's bytes and every project file its code cells import are the code
  digest (`mlrepo.run.identity`): editing a cell is a new run, a cached run is reused.
- **A failing cell** ends the run FAILED with one paragraph: which cell, its first line, the
  exception and its message (`NotebookCellError`, exit 1); the traceback is in the executed
  notebook.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mlrepo import ROOT
from mlrepo.errors import UserError

TAG = "study.notebook"
"""The run tag naming the notebook a study ran."""
ARTIFACTS = "notebook"
"""The artifact folder of the executed notebook and its HTML rendering."""
PARAMETERS = "parameters"
INJECTED = "injected-parameters"
KERNEL = "python3"
TIMEOUT_S = 1800
"""The most a cell may take (`notebook.timeout_s` in the config overrides it)."""
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NotebookCellError(UserError):
    """A cell of a notebook study raised: the run ends FAILED, this one paragraph says where."""

    exit_code = 1


def named(cfg: DictConfig) -> str | None:
    """The notebook an `estudy_` config names (`pipeline.notebook`), or None."""
    found = OmegaConf.select(cfg, "pipeline.notebook", default=None)
    return str(found) if found else None


def study_config(pipeline: str, *overrides: str) -> DictConfig:
    """The config a run of the notebook study `pipeline` would inject, for running it by hand.

    Composes `pipeline=<pipeline>` with `overrides` and resolves what the study studies
    (`study.of` → `study.run_id`) against the configured store (`MLFLOW_TRACKING_URI` wins).
    """
    from mlrepo.run import tasks
    from mlrepo.run.config import compose
    from mlrepo.track import tracking

    cfg = compose([f"pipeline={pipeline}", *overrides])
    uri = tracking.resolve_uri(str(cfg.tracking.uri))
    os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
    tasks.prepare(cfg, uri)
    return cfg


class NotebookPipeline:
    """What the runner calls instead of a `pipeline.py` module: `train(config)` runs the notebook.

    Args:
        path: the notebook, relative to the repository root.
        root: the repository root.
    """

    def __init__(self, path: str, root: Path = ROOT) -> None:
        self.path = path
        self.file = root / path
        self.root = root

    def train(self, config: DictConfig) -> None:
        """Execute the notebook with `config` injected; log it, its HTML and its figures.

        Returns:
            None: the study's report is the executed notebook (its HTML rendering).

        Raises:
            NotebookCellError: a cell raised (the notebook is logged first, error included).
        """
        import mlflow

        active = mlflow.active_run()
        run_id = active.info.run_id if active else ""
        mlflow.set_tag(TAG, self.path)
        notebook, error = execute(self.file, config, run_id, mlflow.get_tracking_uri(), self.root)
        log_artifacts(notebook, self.file.stem)
        if error is not None:
            raise error


def load(cfg: DictConfig, root: Path = ROOT) -> NotebookPipeline:
    """The notebook study `cfg` names, checked.

    Raises:
        UserError: the notebook does not exist, is not an `.ipynb`, or the pipeline is not a study.
    """
    from mlrepo.run.tasks import STUDY_TASKS, task_of

    path = named(cfg) or ""
    name = str(cfg.pipeline.name)
    if task_of(name) not in STUDY_TASKS:
        raise UserError(
            f"pipeline.notebook is set, but {name} is not a study: only estudy_/study_ pipelines may be "
            "a notebook; name it estudy_<name>, or give it a pipeline.code."
        )
    if not path.endswith(".ipynb") or not (root / path).is_file():
        raise UserError(
            f"pipeline.notebook is '{path}', but there is no such notebook (a path from the repository "
            "root, e.g. models/IrisClassifier/notebooks/errors.ipynb)."
        )
    return NotebookPipeline(path, root)


def inject(notebook: Any, config: DictConfig) -> int:
    """Insert the run's config as a cell after the one tagged `parameters` (papermill-style).

    Returns:
        The index of the injected cell.
    """
    import nbformat

    values = OmegaConf.to_container(config, resolve=True)
    source = (
        "# Injected by the runner (papermill-style): the run's config.\n"
        "from omegaconf import OmegaConf\n\n"
        f"config = OmegaConf.create({values!r})\n"
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED]})
    tagged = [i for i, c in enumerate(notebook.cells) if PARAMETERS in c.get("metadata", {}).get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    notebook.cells.insert(at, cell)
    return at


def execute(
    path: Path, config: DictConfig, run_id: str, uri: str, root: Path = ROOT
) -> tuple[Any, NotebookCellError | None]:
    """Run every cell of the notebook at `path` in a fresh kernel, with `config` injected.

    Args:
        path: the notebook.
        config: the run's config, injected as `config`.
        run_id: the MLflow run the kernel logs to (`MLFLOW_RUN_ID`).
        uri: the tracking URI the kernel uses.
        root: the repository root, first on the kernel's `PYTHONPATH`.

    Returns:
        `(executed notebook, None)`, or `(notebook executed up to the failing cell, the error)`.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    injected = inject(notebook, config)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_RUN_ID": run_id,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    timeout = int(OmegaConf.select(config, "notebook.timeout_s", default=TIMEOUT_S) or TIMEOUT_S)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}}, log=_quiet())  # fmt: skip
    # The kernel's own log (not the cells' output, which comes back over its channels) goes to a
    # file: its loopback-TCP warning is noise here; its last line explains a kernel that died.
    with tempfile.TemporaryFile("w+") as kernel_log:
        try:
            client.execute(env=env, stderr=kernel_log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            kernel_log.seek(0)
            last = [line for line in kernel_log.read().splitlines() if line.strip()][-1:]
            return notebook, _cell_error(notebook, injected, path, root, exc, last)
    return notebook, None


def _quiet() -> logging.Logger:
    """The logger handed to nbclient and nbconvert: their progress lines stay out of the run's output."""
    log = logging.getLogger("mlrepo.run.notebook.jupyter")
    log.setLevel(logging.ERROR)
    return log


def _cell_error(
    notebook: Any, injected: int, path: Path, root: Path, exc: Exception, kernel_log: list[str]
) -> NotebookCellError:
    """One paragraph: which cell (numbered as in the notebook, the injected one not counted), its
    first line, and the error."""
    number, first, where = 0, "", None
    for index, cell in enumerate(notebook.cells):
        if index == injected or cell.cell_type != "code":
            continue
        number += 1
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            first, where = cell.source.strip().splitlines()[0] if cell.source.strip() else "", number
            errors = [out for out in cell.outputs if out.get("output_type") == "error"]
            name, value = errors[0].get("ename", type(exc).__name__), errors[0].get("evalue", "")
            break
    else:  # a timeout or a kernel that died: no cell holds an error output
        name, value = type(exc).__name__, " ".join(_ANSI.sub("", str(exc)).split())[:300]
        value += f" (the kernel's last words: {kernel_log[0][:200]})" if kernel_log else ""
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    cell = f"code cell {where} (`{first[:80]}`)" if where else "a cell"
    return NotebookCellError(
        f"the notebook {rel} failed in {cell}: {name}: {_ANSI.sub('', str(value))[:500]}. Its outputs up "
        f"to there are logged with the run as {ARTIFACTS}/{path.stem}.ipynb and .html."
    )


def log_artifacts(notebook: Any, stem: str) -> None:
    """Log the executed notebook, its HTML rendering (nbconvert) and the PNGs it displayed."""
    import base64

    import mlflow
    import nbformat
    from nbconvert import HTMLExporter

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / ARTIFACTS
        folder.mkdir()
        nbformat.write(notebook, folder / f"{stem}.ipynb")
        html, _ = HTMLExporter(template_name="lab", log=_quiet()).from_notebook_node(notebook)
        (folder / f"{stem}.html").write_text(html, encoding="utf-8")
        mlflow.log_artifacts(str(folder), ARTIFACTS)
        plots = Path(tmp) / "plots"
        plots.mkdir()
        number = 0
        for cell in notebook.cells:
            if cell.cell_type != "code" or INJECTED in cell.get("metadata", {}).get("tags", []):
                continue
            number += 1
            images = [
                o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
            ]
            for i, image in enumerate(images):
                suffix = f"-{i + 1}" if len(images) > 1 else ""
                (plots / f"{stem}-cell{number}{suffix}.png").write_bytes(base64.b64decode(image))
        if any(plots.iterdir()):
            mlflow.log_artifacts(str(plots), "plots")
