"""The Iris flowers: 150 rows, 4 measurements, 3 species (scikit-learn's bundled copy)."""
