"""The 8×8 handwritten digits: 1,797 images of 64 pixels (ink 0–16), 10 classes (scikit-learn's copy)."""
