"""Import an MLflow run into the BentoML model store for the deploy folder this file sits in.

python deploy/<Model>/V<n>/create_bento_model.py                  # best FINISHED run (development)
python deploy/<Model>/V<n>/create_bento_model.py --run-id <id>    # a given run
python deploy/<Model>/V<n>/create_bento_model.py --branch production

The deploy (`<Model>/V<n>`) comes from this file's folder; the pipeline and the model's name
from `common.py`. Nothing to edit when the folder is copied.
"""

import sys

from mlrepo.ship.deploy import create_bento_model_main

if __name__ == "__main__":
    sys.exit(create_bento_model_main(__file__))
