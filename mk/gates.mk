# Governance gates: the repository's rules (docs/guides/governance.md).
BASE ?= origin/main
HEAD_REF ?=
BODY ?=

.PHONY: check diagrams pr-check pre-commit-install rules

check: init ## Check the repository's rules (python -m mlrepo check): one line when clean, else RULE-ID path:line, exit 1
	@$(PY) -m mlrepo check

rules: init ## List every rule id, what it asks and how to fix it
	$(PY) -m mlrepo rules

diagrams: init ## Regenerate the Diagram section of every models/<Model>/__init__.py from its model.py and common.py
	$(PY) -m mlrepo diagrams

pr-check: init ## Pull-request gates with this checkout's rules and hooks (BASE=origin/main [HEAD_REF=ref] [BODY=file])
	$(PY) -m mlrepo pr-check --base $(BASE) $(if $(HEAD_REF),--head $(HEAD_REF)) $(if $(BODY),--body $(BODY))

pre-commit-install: init ## Install the git pre-commit hook (the same hooks CI runs)
	$(PY) -m pre_commit install
