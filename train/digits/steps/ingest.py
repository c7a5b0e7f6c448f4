"""Read the versioned digits table the pipeline trains on."""

import logging
from pathlib import Path

import pandas as pd

from datasets.digits.dataset import materialize_table
from mlrepo.run.steps import step
from mlrepo.track import tables

log = logging.getLogger(__name__)


@step(ignore=("data_dir",))  # the table and the dataset version say what is read, not the folder
def ingest(table: str, data_dir: str | Path) -> tuple[pd.DataFrame, Path]:
    """Read the table `table` from `data_dir`, materializing it first when it is missing.

    A missing table is created by the same code as its DVC stage (`make data`), so the bytes
    are the ones DVC tracks; the run's dataset input records their hash either way.

    Returns:
        The table's rows and its path.
    """
    path = tables.path_of(table, data_dir)
    if not path.exists():
        log.warning("table %s is not in %s: materializing it (`make data` or `dvc pull` does it too)",
                    table, data_dir)  # fmt: skip
        materialize_table(table, data_dir)
    return tables.read(table, data_dir), path
