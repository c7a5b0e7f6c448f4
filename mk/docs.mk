# API documentation (pdoc) with offline diagrams and formulas: see docs/README.md.
DOCS_OUT ?= docs/_build
DOCS_PORT ?= 8000

.PHONY: docs docs-serve

docs: init ## Build the HTML docs into docs/_build/ (API, landing page, guides; renders offline)
	$(PY) -m mlrepo.docs --out $(DOCS_OUT)

docs-serve: docs ## Build the docs, then serve them on http://127.0.0.1:8000 (DOCS_PORT=8001 to change)
	$(PY) -m http.server --bind 127.0.0.1 --directory $(DOCS_OUT) $(DOCS_PORT)
