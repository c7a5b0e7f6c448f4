"""Create the digits tables (`<model-name>_dataset_<version>`) from scikit-learn's bundled copy.

The `dataset_digits` pipeline returns `build_table(version)`, and its run writes the table: DVC's
stage (dvc.yaml) runs `python -m train pipeline=dataset_digits`. `materialize_table` writes the
same bytes without a run (a training pipeline that finds the table missing calls it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from datasets.digits.common import PIXELS, SPLIT, SPLITS, TARGET, VERSIONS
from mlrepo.errors import UserError
from mlrepo.track import tables


def load_digits_frame() -> pd.DataFrame:
    """Load the digits as one table: the 64 `PIXELS` (uint8, 0–16) and the `TARGET` digit.

    Returns:
        1,797 rows, columns `PIXELS + [TARGET]`.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    frame = pd.DataFrame(bunch.data.astype("uint8"), columns=PIXELS)
    frame[TARGET] = bunch.target.astype("uint8")
    return frame


def assign_splits(frame: pd.DataFrame, validation: float, test: float, seed: int) -> pd.Series:
    """Give each row a split (`train`, `validation`, `test`), stratified by digit.

    Args:
        frame: the rows, with the `TARGET` column.
        validation: the share of rows for validation.
        test: the share of rows for test.
        seed: the seed of the shuffle.

    Returns:
        The split of each row, aligned with `frame`.
    """
    from sklearn.model_selection import train_test_split

    rest, test_index = train_test_split(
        frame.index, test_size=test, random_state=seed, stratify=frame[TARGET]
    )
    train_index, validation_index = train_test_split(
        rest, test_size=validation / (1 - test), random_state=seed, stratify=frame.loc[rest, TARGET]
    )
    split = pd.Series(SPLITS[0], index=frame.index, name=SPLIT)
    split[validation_index] = SPLITS[1]
    split[test_index] = SPLITS[2]
    return split


def build_table(version: str) -> pd.DataFrame:
    """The rows of dataset version `version`: the images, their digit and their stored split.

    Raises:
        UserError: there is no such version in `VERSIONS`.
    """
    if version not in VERSIONS:
        raise UserError(f"The digits dataset has no version '{version}'; it has {', '.join(VERSIONS)}.")
    spec = VERSIONS[version]
    frame = load_digits_frame()
    frame[SPLIT] = assign_splits(frame, spec.validation, spec.test, spec.seed)
    return frame


def materialize_table(table: str, data_dir: str | Path, pipeline: str = "dataset_digits") -> Path:
    """Write the table `table` (e.g. `cnnv1_dataset_v1`) into `data_dir` and return its path.

    The table carries the metadata a run of `pipeline` (with its defaults) writes, so its bytes,
    and its DVC md5, are those of the table that pipeline makes.

    Raises:
        UserError: the name is not `<model-name>_dataset_<version>` or the version is unknown.
    """
    _, version = tables.parse_name(table)
    frame = build_table(version)
    # Imported by name: the table's identity covers the code that makes its rows, not the runner's.
    metadata = importlib.import_module("mlrepo.run.tasks").table_metadata(pipeline)
    return tables.materialize(frame, table, data_dir, metadata)


def main(argv: Sequence[str] | None = None) -> int:
    """Materialize one table without a tracked run, print its path and DVC hash (DVC runs the pipeline)."""
    parser = argparse.ArgumentParser(description="Materialize a digits table as Parquet.")
    parser.add_argument(
        "--table", required=True, help="<model-name>_dataset_<version>, e.g. cnnv1_dataset_v1"
    )
    parser.add_argument("--data-dir", default="data", help="the folder the table goes to (default: data)")
    args = parser.parse_args(argv)
    try:
        path = materialize_table(args.table, args.data_dir)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"{path}  md5 {tables.dvc_hash(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
