"""The `estudy_iris` pipeline: a study of the best train_iris run (what it relies on, where it errs)."""
