#!/usr/bin/env bash
# The production tracking store: `mlflow server` with a PostgreSQL backend and served artifacts.
#   scripts/mlflow-server.sh start   start PostgreSQL (scripts/postgres.sh), then the server on
#                                    127.0.0.1:$MLREPO_SERVER_PORT, and wait until /health answers
#   scripts/mlflow-server.sh stop    stop the server, then PostgreSQL
# Settings (environment): MLREPO_SERVER_PORT (default 5050, as conf/branch/production.yaml),
# MLREPO_SERVER_DIR (pid, log and artifacts; default .mlflow/server), plus those of postgres.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
PORT=${MLREPO_SERVER_PORT:-5050}
DIR=${MLREPO_SERVER_DIR:-$ROOT/.mlflow/server}
PG_PORT=${MLREPO_PG_PORT:-5433}
PG_DB=${MLREPO_PG_DB:-mlflow}
PG_USER=${MLREPO_PG_USER:-mlflow}
export MLFLOW_DISABLE_TELEMETRY=true

healthy() {
  "$PY" -c "import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2).status == 200 else 1)
except OSError:
    sys.exit(1)"
}

start() {
  "$ROOT/scripts/postgres.sh" start
  mkdir -p "$DIR/artifacts"
  if [ -s "$DIR/server.pid" ] && kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
    echo "MLflow server already running (pid $(cat "$DIR/server.pid"))"
  else
    # Its own session, so that stop ends the server and its workers together.
    setsid "$PY" -m mlflow server \
      --backend-store-uri "postgresql+psycopg2://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" \
      --artifacts-destination "$DIR/artifacts" --serve-artifacts \
      --host 127.0.0.1 --port "$PORT" --workers 2 >"$DIR/server.log" 2>&1 &
    echo $! >"$DIR/server.pid"
  fi
  for _ in $(seq 1 120); do
    if healthy; then
      echo "MLflow tracking server ready: http://127.0.0.1:$PORT (log: $DIR/server.log)"
      return 0
    fi
    if ! kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
      echo "error: the MLflow server exited; its log ($DIR/server.log) ends with:" >&2
      tail -n 20 "$DIR/server.log" >&2
      return 1
    fi
    sleep 1
  done
  echo "error: the MLflow server did not answer on http://127.0.0.1:$PORT/health in 120 s" >&2
  return 1
}

stop() {
  if [ -s "$DIR/server.pid" ]; then
    pid=$(cat "$DIR/server.pid")
    if kill -- "-$pid" 2>/dev/null; then
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
    fi
    rm -f "$DIR/server.pid"
  fi
  echo "MLflow server stopped"
  "$ROOT/scripts/postgres.sh" stop
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
