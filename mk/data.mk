# Dataset tables kept by DVC (docs/guides/datasets-and-dvc.md). Stages run with .venv/bin first on PATH.
DVC := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DVC_NO_ANALYTICS=1 $(PY) -m dvc

.PHONY: data data-status data-push data-pull bench-digits

data: init ## Materialize the dataset tables into data/ (dvc repro: redoes only the stages whose code changed)
	$(DVC) repro

data-status: init ## Show which tables or stages differ from dvc.lock (dvc status)
	$(DVC) status

data-push: init ## Copy the tracked tables to the default DVC remote (<repo>/../.dvc-remote)
	$(DVC) push

data-pull: init ## Restore the tracked tables from the DVC remote, byte for byte (dvc pull)
	$(DVC) pull

bench-digits: init ## Benchmark: a full (uncapped) DigitsCNN training; prints samples/s and test accuracy
	$(PY) bench/digits_train.py
