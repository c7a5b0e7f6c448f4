# Deploy (issue 5): BentoML model import, prediction, serving, container and ECR push.
# MODEL names a deploy folder under deploy/ (<Model>/V<n>); see docs/guides/deploy.md.
MODEL ?= IrisClassifier/V1
SERVE_PORT ?= 3000
BACKEND ?= podman
ECR_ARGS ?=

.PHONY: bento-model predict predict-batch serve ecr podman-install bench-serve

bento-model: init ## Import the best FINISHED run (or RUN_ID=...) into the BentoML model store (MODEL=IrisClassifier/V1)
	$(PY) deploy/$(MODEL)/create_bento_model.py $(if $(RUN_ID),--run-id $(RUN_ID))

predict: init ## Predict one record: make predict MODEL=IrisClassifier/V1 ARGS="5.1 3.5 1.4 0.2"
	$(PY) -m mlrepo.ship.deploy predict --model $(MODEL) $(ARGS)

# make exits 2 on any failure (see `exited` in the Makefile); the command's own code is printed
# first: 1 some rows were bad (the others are predicted and written), 2 a mistake in the command.
PREDICT_BATCH = $(PY) -m mlrepo.ship.deploy predict-batch --model $(MODEL) --file $(FILE) $(if $(OUT),--out $(OUT))
predict-batch: init ## Predict a CSV: make predict-batch FILE=rows.csv [OUT=out.csv]; bad rows reported by number
	@test -n "$(FILE)" || { echo "Pass FILE=<a CSV with a header row>, e.g. make predict-batch FILE=deploy/$(MODEL)/sample-input.csv" >&2; exit 2; }
	@echo "$(PREDICT_BATCH)"; $(PREDICT_BATCH) \
	  || $(call exited,predict-batch,1 some rows were bad and the others are written; 2 a mistake in the command)

serve: init ## Serve the deploy on http://127.0.0.1:3000: try it at /, API at /docs (MODEL=..., SERVE_PORT=...)
	$(PY) -m mlrepo.ship.deploy serve --model $(MODEL) --port $(SERVE_PORT)

ecr: init ## Build the container and push it to ECR (BACKEND=podman|docker ECR_ARGS="--ecr-name n --tag t")
	PYTHON=$(CURDIR)/$(PY) deploy/$(MODEL)/ecr.sh --backend $(BACKEND) $(ECR_ARGS)

podman-install: ## Install podman (runc), skopeo, docker-registry, awscli, debootstrap from Debian (root)
	bash scripts/install-podman.sh

bench-serve: init ## Benchmark the Bento service against mlflow models serve (c=1 and c=32)
	$(PY) bench/serve.py
