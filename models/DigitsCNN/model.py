"""The DigitsCNN: two convolutions over the 8×8 image, then a small dense classifier (Keras)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.DigitsCNN.common import IMAGE_SHAPE, INPUT_SIZE, MAX_INK, NUM_CLASSES

if TYPE_CHECKING:
    import keras


class DigitsCNN:
    """Builds the compiled Keras model that reads 64 raw pixels (0–16) and gives 10 digit probabilities.

    Scaling and reshaping are layers of the model, so a served model takes the table's pixel
    columns as they are.

    Args:
        filters: channels of the first convolution (the second has twice as many).
        kernel_size: side of the square convolution kernels.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate after the convolutions and after the dense layer.
        learning_rate: Adam's learning rate.
    """

    def __init__(
        self,
        filters: int = 32,
        kernel_size: int = 3,
        dense_units: int = 64,
        dropout: float = 0.25,
        learning_rate: float = 0.001,
    ) -> None:
        self.filters = filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.learning_rate = learning_rate

    def build(self) -> keras.Model:
        """Return the compiled, untrained model (Adam, sparse categorical cross-entropy, accuracy)."""
        import keras
        from keras import layers

        conv = dict(kernel_size=self.kernel_size, padding="same", activation="relu")
        model = keras.Sequential(
            [
                keras.Input(shape=(INPUT_SIZE,), name="pixels"),
                layers.Rescaling(1.0 / MAX_INK),
                layers.Reshape(IMAGE_SHAPE),
                layers.Conv2D(self.filters, **conv),
                layers.Conv2D(2 * self.filters, **conv),
                layers.MaxPooling2D(2),
                layers.Dropout(self.dropout),
                layers.Flatten(),
                layers.Dense(self.dense_units, activation="relu"),
                layers.Dropout(self.dropout),
                layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
            ],
            name="DigitsCNN",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model
