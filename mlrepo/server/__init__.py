"""The team's tracking server: credentials, users, promotion, lineage and backups.

`scripts/mlflow-server.sh` starts the stack (PostgreSQL, an S3 API, `mlflow server --app-name
basic-auth`); the modules here are what clients and `python -m mlrepo` do with it. Importing
this package is cheap: MLflow, boto3 and BentoML are imported inside the functions.
"""
