"""Training pipelines: `python -m train pipeline=<name>` runs `train/<code>/pipeline.py:train`."""
