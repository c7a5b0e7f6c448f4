"""Build the digits table of `data.version`: the runner writes it as `data.table` and logs it."""

import pandas as pd
from omegaconf import DictConfig

from datasets.digits.dataset import build_table


def train(config: DictConfig) -> pd.DataFrame:
    """Return the rows of digits version `config.data.version` (images, digit, stored split)."""
    return build_table(str(config.data.version))
