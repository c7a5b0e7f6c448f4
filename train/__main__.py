"""`python -m train pipeline=<name> [branch=production] [key=value ...]`: the Hydra entry point.

It only composes the config; `mlrepo.run.runner` does the rest. `python -m train runs` lists runs
(`mlrepo.track.runs`).
"""

import sys

import hydra
from omegaconf import DictConfig

from mlrepo.run import runner
from mlrepo.run.config import CONF_DIR, register_resolvers


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Run the composed config as one tracked MLflow run."""
    runner.task(cfg)


if __name__ == "__main__":
    runner.skip_final_collection()
    if sys.argv[1:2] == ["runs"]:
        from mlrepo.track.runs import main as list_runs

        sys.exit(list_runs(sys.argv[2:]))
    register_resolvers()
    runner.launch(main)
