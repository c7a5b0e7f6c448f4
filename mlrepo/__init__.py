"""The monorepo's own machinery: config, tracking, the runner, and the repository's rules.

Importing `mlrepo` is cheap: heavy libraries (MLflow, TensorFlow, BentoML) are imported
inside the functions that need them, so quick commands start fast.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: every relative path in the config resolves against it."""

__all__ = ["ROOT"]
