# Governance gates: the repository's rules (docs/guides/governance.md).
BASE ?= origin/main

.PHONY: check diagrams pr-check pre-commit-install rules

check: init ## Check the repository's rules (python -m mlrepo check): RULE-ID path:line, exit 1 on a violation
	$(PY) -m mlrepo check

rules: init ## List every rule id, what it asks and how to fix it
	$(PY) -m mlrepo rules

diagrams: init ## Regenerate the Diagram section of every models/<Model>/__init__.py from its model.py
	$(PY) -m mlrepo diagrams

pr-check: init ## Pull-request gates from BASE (BASE=origin/main): checker, pre-commit on changed files, model runs, Pipfile owner
	$(PY) -m mlrepo pr-check --base $(BASE)

pre-commit-install: init ## Install the git pre-commit hook (the same hooks CI runs)
	$(PY) -m pre_commit install
