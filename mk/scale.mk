# Run identity, sweeps, SLURM and the production tracking server (issue 3).
.PHONY: runs sweep slurm-up slurm-down mlflow-server mlflow-server-stop mlflow-server-credentials mlflow-backup mlflow-restore bench-server

runs: init ## List runs: status, pipeline, uid, changed params, main metric, age (ARGS="--watch")
	$(PY) -m train runs $(ARGS)

sweep: init ## Sweep in parallel on this machine (ARGS="model.C=0.1,1,10")
	$(PY) -m train -m pipeline=$(PIPELINE) launcher=local $(ARGS)

slurm-up: ## Start a single-node SLURM cluster on this machine (root; installs slurm-wlm + munge)
	bash scripts/slurm.sh start

slurm-down: ## Stop the single-node SLURM cluster
	bash scripts/slurm.sh stop

mlflow-server: init ## Start the team server on http://127.0.0.1:5050: PostgreSQL, S3 artifacts, logins (MLFLOW_ADMIN_PASSWORD)
	bash scripts/mlflow-server.sh start

mlflow-server-stop: ## Stop the team tracking server, its S3 API and its PostgreSQL
	bash scripts/mlflow-server.sh stop

mlflow-server-credentials: ## Print the admin's login as export lines, for eval (CI_USER=1: the ci user's)
	@bash scripts/mlflow-server.sh credentials

mlflow-backup: init ## Back up the team server (PostgreSQL dumps + artifact objects) into .mlflow/backups/
	$(PY) -m mlrepo.server.backup backup

mlflow-restore: init ## Restore a backup into the team server, replacing its state (FILE=.mlflow/backups/....tar.gz)
	@test -n "$(FILE)" || { echo "usage: make mlflow-restore FILE=.mlflow/backups/mlflow-....tar.gz" >&2; exit 2; }
	$(PY) -m mlrepo.server.backup restore "$(FILE)"

bench-server: init ## Benchmark the team server: 8 writers x 25 runs (runs/s, lost), then listing 10 000 runs
	$(PY) bench/server_load.py --uri $${MLFLOW_TRACKING_URI:-http://127.0.0.1:5050}
	$(PY) bench/server_runs.py --uri $${MLFLOW_TRACKING_URI:-http://127.0.0.1:5050} --db postgresql://mlflow@127.0.0.1:$${MLREPO_PG_PORT:-5433}/mlflow
