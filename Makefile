# `make` alone prints this help. Every target documents itself with `## text`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true

PYTHON ?= python3
PIPENV_VERSION := 2026.10.3
PIPENV := $(PYTHON) -m pipenv
VENV := .venv
PY := $(VENV)/bin/python
PIPELINE ?= train_iris
ARGS ?=
MLFLOW_PORT ?= 5000

.PHONY: help init train test lint format mlflow-ui clean

# Exit codes through make: GNU make exits 2 whenever a recipe fails, whatever the command's own
# code (it cannot pass one through). A target whose command documents its codes runs it as
# `@echo CMD; CMD || $(call exited,NAME,MEANINGS)`: the command's own code and its meaning are
# printed before make's `Error N` line. Scripts that branch on the code run the command itself.
exited = { rc=$$?; echo "$(1) exited $$rc ($(2)); make exits 2 on any failure: run the command itself for its code" >&2; exit $$rc; }

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.synced: Pipfile.lock
	@$(PIPENV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet "pipenv==$(PIPENV_VERSION)" \
	  || $(PYTHON) -m pip install --user --quiet --break-system-packages "pipenv==$(PIPENV_VERSION)"
	$(PIPENV) sync --dev
	@touch $@

init: $(VENV)/.synced ## Install pipenv if missing, then the locked environment into .venv/ (pipenv sync)

train: init ## Run a pipeline on the development super-branch (PIPELINE=train_iris ARGS="model.C=0.5")
	@ls conf/pipeline/*.yaml >/dev/null 2>&1 || { echo "There is no pipeline yet. Make one: make new-dataset NAME=wine," \
	  "make new-model NAME=WineForest, make new-pipeline NAME=rfv1-winev1 MODEL=WineForest DATASET=wine" \
	  "(docs/guides/adding-a-model.md)." >&2; exit 2; }
	@echo "$(PY) -m train pipeline=$(PIPELINE) $(ARGS)"; $(PY) -m train pipeline=$(PIPELINE) $(ARGS) \
	  || $(call exited,python -m train,1 the run failed; 2 a mistake in the command; 130 interrupted)

test: init ## Run the whole test suite, slow tests included (PYTEST_ARGS="-k iris -x")
	$(PY) -m pytest $(PYTEST_ARGS)

lint: init ## Check style with ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: init ## Format the code with ruff
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

mlflow-ui: init ## Open the MLflow UI on the embedded store (http://127.0.0.1:$(MLFLOW_PORT))
	$(PY) -m mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.mlflow/mlflow.db --host 127.0.0.1 --port $(MLFLOW_PORT)

clean: ## Remove run outputs and caches (keeps .venv and the MLflow store)
	rm -rf outputs .pytest_cache .ruff_cache docs/_build
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

# Each capability adds its targets in mk/<topic>.mk.
-include mk/*.mk
