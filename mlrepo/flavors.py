"""Log a trained model with the MLflow flavour that fits it (sklearn, keras/tensorflow, pyfunc)."""

from __future__ import annotations

import sys
from typing import Any

MODEL_NAME = "model"
"""The name every model is logged under: deploy imports `runs:/<run id>/model`."""


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
        input_example: a few input rows (see `mlrepo.tracking.set_input_example`), or None.

    Returns:
        MLflow's `ModelInfo`.
    """
    import mlflow
    from mlflow.models import infer_signature

    flavor = flavor_of(model)
    signature = None
    if input_example is not None:
        signature = infer_signature(input_example, _predict(model, flavor, input_example))
    common = dict(name=MODEL_NAME, signature=signature, input_example=input_example)
    if flavor == "sklearn":
        import mlflow.sklearn

        return mlflow.sklearn.log_model(
            model, pip_requirements=mlflow.sklearn.get_default_pip_requirements(), **common
        )
    if flavor == "tensorflow":
        import mlflow.tensorflow

        return mlflow.tensorflow.log_model(
            model, pip_requirements=mlflow.tensorflow.get_default_pip_requirements(), **common
        )
    return mlflow.pyfunc.log_model(
        python_model=model, pip_requirements=[f"mlflow=={mlflow.__version__}"], **common
    )
