"""Names shared by the digits dataset, its pipelines and its deploys, and its versions."""

from typing import NamedTuple

IMAGE_SHAPE = (8, 8)
"""Height and width of an image, in pixels."""

PIXELS = [f"pixel_{i:02d}" for i in range(IMAGE_SHAPE[0] * IMAGE_SHAPE[1])]
"""The pixel columns, row by row; each holds the ink level, an integer from 0 to 16."""

TARGET = "digit"
"""The label column: the digit drawn, 0 to 9."""

SPLIT = "split"
"""The column that says which split a row belongs to; the split is stored, not recomputed."""

SPLITS = ("train", "validation", "test")
"""The values of `SPLIT`."""

CLASS_NAMES = [str(d) for d in range(10)]
"""The labels' names, in the order of their codes."""


class Version(NamedTuple):
    """How one dataset version splits the images.

    Attributes:
        validation: the share of the images held out for validation (early stopping).
        test: the share held out for the final test.
        seed: the seed of the stratified shuffle.
    """

    validation: float
    test: float
    seed: int


VERSIONS = {"v1": Version(validation=0.15, test=0.15, seed=0)}
"""Every dataset version. A version, once its table is tracked, never changes: add `v2` instead."""
