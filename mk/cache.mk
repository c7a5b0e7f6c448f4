# The step cache (issue 15): cached pipeline steps under paths.cache (.cache/steps/).
.PHONY: cache-ls cache-clean

cache-ls: init ## List the step cache's entries: step, key, size, compute time, last use
	$(PY) -m mlrepo cache ls

cache-clean: init ## Empty the step cache (ARGS="--older-than 7d": only entries unused that long)
	$(PY) -m mlrepo cache clean $(ARGS)
