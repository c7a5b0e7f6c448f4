"""`python -m train pipeline=<name> [branch=production] [key=value ...]`: the Hydra entry point.

It only composes the config; `mlrepo.runner` does the rest.
"""

import hydra
from omegaconf import DictConfig

from mlrepo import runner
from mlrepo.config import CONF_DIR, register_resolvers


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Run the composed config as one tracked MLflow run."""
    runner.task(cfg)


if __name__ == "__main__":
    register_resolvers()
    runner.launch(main)
