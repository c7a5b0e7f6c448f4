"""Helpers for HousingRegressor."""

DEFAULT_LEARNING_RATE = 0.1
"""The boosting's learning rate when the config gives none."""
