"""Constants shared by DigitsCNN, its pipeline and its deploys."""

INPUT_SIZE = 64
"""Pixels per image (8×8), the model's input width: the table's pixel columns as they are."""

IMAGE_SHAPE = (8, 8, 1)
"""Height, width and channels the input is reshaped into for the convolutions."""

MAX_INK = 16.0
"""The largest pixel value in the digits data: inputs are divided by it inside the model."""

NUM_CLASSES = 10
"""Digits 0 to 9."""
