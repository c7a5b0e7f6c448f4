"""IrisClassifier V2: `POST /predict` with `{"records": [{...}, ...]}` answers each record with its
class and the probability of every class: `{"predictions": [{"label": "setosa", "probabilities":
{"setosa": 0.97, ...}}], "timestamp": ..., "model": ...}`.

    make serve MODEL=IrisClassifier/V2     # http://127.0.0.1:3000: try it at /, the API at /docs

The same pipeline as V1 with a new output contract; the machinery is `mlrepo/ship/serving.py`.
"""

import bentoml
import common

from mlrepo.ship import serving

IMAGE = serving.image(
    # Pinned to Pipfile.lock (a test checks they agree).
    "bentoml==1.4.40",
    "mlflow-skinny==3.17.2",
    "scikit-learn==1.9.1",
    "skops==0.16.0",
    "pandas==3.1.1",
    "numpy==2.4.6",
)
"""The container: the local base image and the Python packages (`bentoml build` locks them)."""


@bentoml.service(image=IMAGE, **serving.SERVICE_CONFIG)
class IrisClassifier(serving.ModelService):
    """Predict the Iris species of flower measurements (cm), with the probability of each class."""

    bento_model = bentoml.models.BentoModel(f"{common.MODEL_NAME}:latest")
    predict = serving.predict_api(bento_model, infer=common.label_and_probabilities)


serving.guard(IrisClassifier)
