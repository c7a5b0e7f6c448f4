"""Names of the IrisClassifier V1 deploy (this file travels inside the Bento)."""

MODEL_NAME = "iris_classifier"
"""The name of the model in the BentoML model store (and of the Bento)."""

PIPELINE = "train_iris"
"""The training pipeline whose runs this deploy serves."""
