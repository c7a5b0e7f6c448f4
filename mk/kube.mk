# Run a pushed image (issue 24): the deploy's Kubernetes manifest, played by podman on 127.0.0.1,
# health-checked, smoke-tested, rolled back on failure. See docs/guides/deploy.md.
# MODEL=<Model>/V<n> (mk/deploy.mk's default); IMAGE=<ref> (default: what ecr.sh pushed);
# DEPLOY_PORT (default 8000, loopback); DEPLOY_TIMEOUT (seconds to wait for /readyz).
TARGET ?= local
DEPLOY_TIMEOUT ?= 180
KUBE_ARGS = --model $(MODEL) $(if $(DEPLOY_PORT),--port $(DEPLOY_PORT))

.PHONY: deploy rollback undeploy manifest bench-deploy

deploy: init ## Run the pushed image of MODEL on podman (127.0.0.1:8000), check /readyz and /predict, roll back on failure
	$(PY) -m mlrepo deploy up $(KUBE_ARGS) --target $(TARGET) --timeout $(DEPLOY_TIMEOUT) $(if $(IMAGE),--image $(IMAGE))

rollback: init ## Go back to the previously deployed image of MODEL (again: forth)
	$(PY) -m mlrepo deploy rollback $(KUBE_ARGS) --target $(TARGET) --timeout $(DEPLOY_TIMEOUT)

undeploy: init ## Stop MODEL's deployment (safe to repeat)
	$(PY) -m mlrepo deploy down --model $(MODEL) --target $(TARGET)

manifest: init ## Print MODEL's Kubernetes manifest (OUT=file writes it; kubectl apply -f file on a cluster)
	$(PY) -m mlrepo deploy manifest --model $(MODEL) $(if $(IMAGE),--image $(IMAGE)) $(if $(OUT),--out $(OUT))

bench-deploy: init ## Time make deploy to a ready service, and the first prediction (podman, local registry)
	$(PY) bench/deploy.py
