"""Names of the HousingRegressor V1 deploy (this file travels inside the Bento)."""

MODEL_NAME = "housing_regressor"
"""The name of the model in the BentoML model store (and of the Bento)."""

PIPELINE = "train_housing"
"""The training pipeline whose runs this deploy serves."""
