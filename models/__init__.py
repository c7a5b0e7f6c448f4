"""Models: each `models/<ModelName>/` documents its model and defines it in `model.py`."""
