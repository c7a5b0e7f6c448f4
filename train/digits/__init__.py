"""The digits pipeline: a DigitsCNN trained on a versioned digits table (`cnnv1-digitsv1`)."""
