"""Names shared by the Iris dataset, its pipeline and its deploy."""

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
"""The measurement columns, in centimetres."""

TARGET = "species"
"""The label column."""

CLASS_NAMES = ["setosa", "versicolor", "virginica"]
"""The species, in the order of their integer codes."""
