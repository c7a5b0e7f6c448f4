"""Helpers for IrisClassifier."""

DEFAULT_C = 1.0
"""Inverse regularization strength used when the config gives none."""
