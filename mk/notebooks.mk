# Notebooks (issue 22): JupyterLab on loopback with the project's kernel (docs/guides/notebooks.md).
# LAB_TOKEN: the token (default: a fresh random one, printed in the URL); LAB_ARGS: more flags.
LAB_PORT ?= 8888
LAB_TOKEN ?=
LAB_ARGS ?=
KERNEL_NAME := mlrepo
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/$(KERNEL_NAME)/kernel.json

.PHONY: lab kernel

# argv[0] "python" is the Python that starts the kernel (Jupyter's rule), so no absolute path
# goes into the spec: it stays right when the checkout moves.
$(KERNEL_SPEC): $(VENV)/.synced
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python (mlrepo .venv)"
	$(PY) -c 'import json, sys; s = json.load(open(sys.argv[1])); s["argv"][0] = "python"; \
	  json.dump(s, open(sys.argv[1], "w"), indent=1)' $@

kernel: $(KERNEL_SPEC) ## Register the project's Jupyter kernel (.venv's Python) inside .venv (idempotent)

# Never 0.0.0.0, never without a token: 127.0.0.1 only; an empty LAB_TOKEN means a random one.
# As root (a CI container), --allow-root: Jupyter refuses root otherwise; loopback and token stay.
lab: init $(KERNEL_SPEC) ## JupyterLab on http://127.0.0.1:$(LAB_PORT) with a token, the repository as root, the project's kernel
	@token="$${LAB_TOKEN:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(24))')}"; \
	exec $(PY) -m jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.port_retries=0 --ServerApp.root_dir="$(CURDIR)" --IdentityProvider.token="$$token" \
	  --MappingKernelManager.default_kernel_name=$(KERNEL_NAME) $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)
