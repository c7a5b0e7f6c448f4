"""The Iris study's steps: small functions that each compute one analysis and its figure."""
