"""Datasets: each `datasets/<name>/dataset.py` declares how its data is created."""
