"""The housing pipeline's steps: small functions with explicit inputs and outputs."""
