"""The housing pipeline: ingest, transform, split, train and evaluate a HousingRegressor."""
