"""HousingRegressor V1: `POST /predict` with `{"records": [{...}, ...]}` answers
`{"predictions": [215300.0, ...], "timestamp": ..., "model": ...}` (prices in euros).

    make serve MODEL=HousingRegressor/V1   # http://127.0.0.1:3000: try it at /, the API at /docs

The input schema is the model's signature (stored when the run was imported); the serving
machinery (input checks, size limit, batching, the try-it page) is `mlrepo/ship/serving.py`.
"""

import bentoml
import common

from mlrepo.ship import serving

IMAGE = serving.image(
    # Pinned to Pipfile.lock (a test checks they agree). mlflow-skinny is enough to load the
    # pyfunc model; skops reads the scikit-learn model that MLflow 3 saved.
    "bentoml==1.4.40",
    "mlflow-skinny==3.17.2",
    "scikit-learn==1.9.1",
    "skops==0.16.0",
    "pandas==3.1.1",
    "numpy==2.4.6",
)
"""The container: the local base image and the Python packages (`bentoml build` locks them)."""


@bentoml.service(image=IMAGE, **serving.SERVICE_CONFIG)
class HousingRegressor(serving.ModelService):
    """Predict the sale price (euros) of houses with the imported MLflow model."""

    bento_model = bentoml.models.BentoModel(f"{common.MODEL_NAME}:latest")
    predict = serving.predict_api(bento_model)


serving.guard(HousingRegressor)
