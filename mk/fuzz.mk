# Fuzz (issue 23): Schemathesis against a served deploy's own OpenAPI document (mlrepo/ship/fuzz.py).
FUZZ_EXAMPLES ?=

.PHONY: fuzz

fuzz: init ## Serve a deploy and fuzz it from its OpenAPI; exit 1 on any failure (MODEL=IrisClassifier/V1 FUZZ_EXAMPLES=50)
	$(PY) -m mlrepo fuzz --model $(MODEL) $(if $(FUZZ_EXAMPLES),--examples $(FUZZ_EXAMPLES))
