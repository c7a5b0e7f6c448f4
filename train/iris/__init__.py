"""The Iris pipeline: ingest, transform, split, train and evaluate an IrisClassifier."""
