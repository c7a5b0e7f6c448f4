"""The `dataset_digits` pipeline: the digits table, built as a tracked run."""
