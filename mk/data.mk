# Dataset tables kept by DVC (docs/guides/datasets-and-dvc.md). Stages run with .venv/bin first on PATH.
DVC := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DVC_NO_ANALYTICS=1 $(PY) -m dvc

.PHONY: data data-status data-push data-pull bench-digits

data: init ## Build the dataset tables into data/ through their dataset_ pipelines' runs (dvc repro: only stages whose code changed)
	$(DVC) repro

data-status: init ## Show which tables or stages differ from dvc.lock (dvc status)
	$(DVC) status

# REMOTE=s3: the team's S3 remote (.dvc/config); on the loopback S3 API of `make mlflow-server`
# (MLREPO_S3=moto, the default) with its dummy keys, else with the AWS credentials you have.
DVC_REMOTE = $(if $(REMOTE),-r $(REMOTE))
DVC_S3_ENV = $(if $(filter s3,$(REMOTE)),$(if $(filter aws,$(MLREPO_S3)),,AWS_ACCESS_KEY_ID=mlrepo-local AWS_SECRET_ACCESS_KEY=mlrepo-local AWS_DEFAULT_REGION=us-east-1))

data-push: init ## Copy the tracked tables to the DVC remote (default <repo>/../.dvc-remote; REMOTE=s3: the team's bucket)
	$(DVC_S3_ENV) $(DVC) push $(DVC_REMOTE)

data-pull: init ## Restore the tracked tables from the DVC remote, byte for byte (REMOTE=s3: the team's bucket)
	$(DVC_S3_ENV) $(DVC) pull $(DVC_REMOTE)

bench-digits: init ## Benchmark: a full (uncapped) DigitsCNN training; prints samples/s and test accuracy
	$(PY) bench/digits_train.py
