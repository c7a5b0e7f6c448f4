"""Log a trained model with the MLflow flavour that fits it (sklearn, keras/tensorflow, pyfunc)."""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

from mlrepo.errors import UserError

MODEL_NAME = "model"
"""The name every model is logged under: deploy imports `runs:/<run id>/model`."""


#: Model libraries whose pipelines log their own flavour (a scikit-learn import beside one is for metrics).
_OTHER_MODEL_LIBRARIES = ("keras", "tensorflow", "torch")


def prepare(imported: Collection[str]) -> None:
    """Import what saving a scikit-learn model needs (skops) before MLflow, when the pipeline will need it.

    skops, the format MLflow saves scikit-learn models in, builds a table of type names when it is
    first imported, and looks for each scipy ufunc in every module loaded before it: imported after
    MLflow's ~3000 modules that took 1.3-1.9 s, before them 0.3-0.5 s (measured 2026-11-26 on 2 cores,
    a pipeline that imports scikit-learn inside its steps). So the runner calls this before it imports
    MLflow, with the top-level modules the pipeline's own code imports anywhere (statically): with
    scikit-learn among them and no other model library, skops (and scikit-learn) are imported now,
    which the model's logging would do later anyway. Anything else imports nothing.

    Args:
        imported: top-level module names (`sklearn`, `pandas`, ...).
    """
    if "sklearn" not in imported or any(name in imported for name in _OTHER_MODEL_LIBRARIES):
        return
    import importlib.util

    if importlib.util.find_spec("skops") is not None:
        import skops.io  # noqa: F401


def flavor_of(model: Any) -> str:
    """Name the MLflow flavour for `model`: `sklearn`, `tensorflow` or `pyfunc`.

    Raises:
        TypeError: the object is none of the supported kinds.
    """
    if "sklearn" in sys.modules:
        from sklearn.base import BaseEstimator

        if isinstance(model, BaseEstimator):
            return "sklearn"
    if "keras" in sys.modules:
        import keras

        if isinstance(model, keras.Model):
            return "tensorflow"
    if "mlflow.pyfunc" in sys.modules:
        from mlflow.pyfunc import PythonModel

        if isinstance(model, PythonModel):
            return "pyfunc"
    raise TypeError(
        f"train() returned a {type(model).__name__}; return a scikit-learn estimator, "
        "a Keras model or an mlflow.pyfunc.PythonModel"
    )


class ModelNotSavedError(UserError):
    """The trained model cannot be saved in its flavour's format: the message says why and what to do.

    A `UserError`, so the runner ends the run FAILED with this one paragraph (exit 2) instead of
    MLflow's chained tracebacks; the full traceback stays with the run as `error/traceback.txt`.
    """


_SKOPS_ADVICE = (
    "MLflow saves scikit-learn models with skops, which rebuilds only classes and functions it can "
    "import by name: define custom transformers and functions at module level in "
    "models/<Model>/model.py (no lambdas, no functions nested in other functions, nothing defined "
    "in a notebook or __main__), or return an mlflow.pyfunc.PythonModel that wraps the estimator."
)


def trusted_types(model: Any) -> list[str]:
    """The types a scikit-learn model's skops file refers to beyond skops's defaults.

    They are the types of the model just trained (tree ensembles: `sklearn.tree._tree.Tree`,
    `...TreePredictor`), so the flavour trusts exactly these when it saves and loads the model,
    and nothing else.

    Raises:
        ModelNotSavedError: skops cannot serialize the model at all.
    """
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    except Exception as exc:  # skops raises many kinds (TypeError, PicklingError, AttributeError...)
        raise ModelNotSavedError(
            f"The trained {type(model).__name__} cannot be saved: skops cannot serialize it "
            f"({type(exc).__name__}: {exc}). {_SKOPS_ADVICE}"
        ) from exc


def _log_sklearn(model: Any, common: dict[str, Any]) -> Any:
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    trusted = trusted_types(model)
    try:
        return mlflow.sklearn.log_model(
            model,
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
            skops_trusted_types=trusted or None,
            **common,
        )
    except MlflowException as exc:
        first = str(exc).split(". ")[0]
        raise ModelNotSavedError(
            f"The trained {type(model).__name__} cannot be saved as an MLflow sklearn model "
            f"({first.rstrip('.')}). {_SKOPS_ADVICE}"
        ) from exc


def _predict(model: Any, flavor: str, example: Any) -> Any:
    if flavor == "tensorflow":
        # Keras wants arrays; a DataFrame example keeps its column names in the signature.
        return model.predict(getattr(example, "values", example), verbose=0)
    if flavor == "pyfunc":
        return model.predict(None, example)
    return model.predict(example)


def log_model(model: Any, input_example: Any) -> Any:
    """Log `model` under the name `model` in the active run, with signature and input example.

    The pip requirements are the flavour's defaults, pinned to the installed (locked)
    versions, which spares MLflow several seconds of requirement inference.

    Args:
        model: what `train(config)` returned.
        input_example: a few input rows (see `mlrepo.track.tracking.set_input_example`), or None.

    Returns:
        MLflow's `ModelInfo`.

    Raises:
        ModelNotSavedError: a scikit-learn model that skops cannot save and load back.
    """
    import mlflow
    from mlflow.models import infer_signature

    flavor = flavor_of(model)
    signature = None
    if input_example is not None:
        signature = infer_signature(input_example, _predict(model, flavor, input_example))
    common = dict(name=MODEL_NAME, signature=signature, input_example=input_example)
    if flavor == "sklearn":
        return _log_sklearn(model, common)
    if flavor == "tensorflow":
        import mlflow.tensorflow

        return mlflow.tensorflow.log_model(
            model, pip_requirements=mlflow.tensorflow.get_default_pip_requirements(), **common
        )
    return mlflow.pyfunc.log_model(
        python_model=model, pip_requirements=[f"mlflow=={mlflow.__version__}"], **common
    )
