"""Import an MLflow run of `train_iris` into the BentoML model store as `iris_classifier`.

python deploy/IrisClassifier/V1/create_bento_model.py                 # best FINISHED run (development)
python deploy/IrisClassifier/V1/create_bento_model.py --run-id <id>   # a given run
python deploy/IrisClassifier/V1/create_bento_model.py --branch production
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for mlrepo

from mlrepo import deploy  # noqa: E402
from mlrepo.errors import UserError  # noqa: E402

MODEL = "IrisClassifier/V1"


def main() -> int:
    """Choose the run, import it, print the model tag; write `KEY=value` lines with `--output-env`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-id", help="the MLflow run to import (default: the best FINISHED run)")
    parser.add_argument("--branch", default="development", help="the super-branch whose store is read")
    parser.add_argument("--output-env", type=Path, help="also write RUN_ID, MODEL_TAG, ... to this file")
    args = parser.parse_args()
    try:
        common = deploy.load_common(MODEL)
        run = deploy.choose_run(common.PIPELINE, args.branch, args.run_id)
        tag = deploy.import_run(common, run)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"Imported run {run.run_id} ({run.metric}={run.value}) as BentoML model {tag}")
    if args.output_env:
        args.output_env.write_text(f"RUN_ID={run.run_id}\nMODEL_TAG={tag}\nPIPELINE={common.PIPELINE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
