"""Shipping: import a run into BentoML, the service every deploy serves, its input contract, the ECR push."""
