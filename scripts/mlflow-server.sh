#!/usr/bin/env bash
# The team's tracking server: PostgreSQL, an S3 bucket for artifacts, and an authenticated
# `mlflow server --app-name basic-auth` (docs/guides/team-server.md).
#   scripts/mlflow-server.sh start        start PostgreSQL (scripts/postgres.sh), the S3 API (a
#                                         loopback moto server unless MLREPO_S3=aws), then the
#                                         server on 127.0.0.1:$MLREPO_SERVER_PORT; wait for /health;
#                                         create the read-only `ci` user. Each part is started
#                                         only if it is not running (a restart of the server alone
#                                         is `stop-server` then `start`).
#   scripts/mlflow-server.sh stop         stop the server, the S3 API, then PostgreSQL
#   scripts/mlflow-server.sh stop-server  stop only the MLflow server (PostgreSQL and S3 keep running)
#   scripts/mlflow-server.sh credentials  print `export MLFLOW_TRACKING_USERNAME=... PASSWORD=...`
#                                         lines for the admin (CI_USER=1: for the ci user)
# Settings (environment): MLREPO_SERVER_PORT (default 5050, as conf/branch/production.yaml),
# MLREPO_SERVER_DIR (pids, logs, secrets mode 0600; default .mlflow/server), MLFLOW_ADMIN_PASSWORD
# (the admin's password; generated and kept in $MLREPO_SERVER_DIR/admin.password when unset),
# MLREPO_S3 (moto: a loopback S3 API on MLREPO_S3_PORT, default 5052; aws: the AWS account of
# the AWS_* variables, MLFLOW_S3_ENDPOINT_URL optional), MLREPO_ARTIFACTS (default
# s3://mlrepo-artifacts/mlflow), plus those of postgres.sh. Passwords are never printed, except by
# `credentials`; S3 credentials are given to the server only (clients go through it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
PORT=${MLREPO_SERVER_PORT:-5050}
DIR=${MLREPO_SERVER_DIR:-$ROOT/.mlflow/server}
PG_PORT=${MLREPO_PG_PORT:-5433}
PG_DB=${MLREPO_PG_DB:-mlflow}
PG_USER=${MLREPO_PG_USER:-mlflow}
S3_MODE=${MLREPO_S3:-moto}
S3_PORT=${MLREPO_S3_PORT:-5052}
ARTIFACTS=${MLREPO_ARTIFACTS:-s3://mlrepo-artifacts/mlflow}
BUCKET=${ARTIFACTS#s3://}
BUCKET=${BUCKET%%/*}
ADMIN="admin"
URL=http://127.0.0.1:$PORT
export MLFLOW_DISABLE_TELEMETRY=true

if [ "$S3_MODE" = moto ]; then
  S3_ENDPOINT=http://127.0.0.1:$S3_PORT
  # moto accepts any key; these dummies keep a real account's keys away from the local bucket.
  S3_ENV=(AWS_ACCESS_KEY_ID=mlrepo-local AWS_SECRET_ACCESS_KEY=mlrepo-local AWS_DEFAULT_REGION=us-east-1)
else
  S3_ENDPOINT=${MLFLOW_S3_ENDPOINT_URL:-}
  S3_ENV=()
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

answers() {
  "$PY" -c "import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen('$1', timeout=2).status == 200 else 1)
except OSError:
    sys.exit(1)"
}

# A secret file, mode 0600: the value of $2 when set, else the file's, else a generated one.
secret() {
  local file=$1 value=${2:-}
  if [ -n "$value" ]; then
    (umask 077 && printf '%s\n' "$value" >"$file")
  elif [ ! -s "$file" ]; then
    (umask 077 && "$PY" -c "import secrets; print(secrets.token_urlsafe(24))" >"$file")
  fi
  chmod 600 "$file"
}

wait_for() {  # wait_for NAME URL PIDFILE LOG SECONDS
  for _ in $(seq 1 "$5"); do
    if answers "$2"; then return 0; fi
    if ! alive "$3"; then
      echo "error: the $1 exited; its log ($4) ends with:" >&2
      tail -n 20 "$4" | grep -v -i password >&2 || true
      return 1
    fi
    sleep 1
  done
  echo "error: the $1 did not answer on $2 in $5 s (log: $4)" >&2
  return 1
}

start_s3() {
  [ "$S3_MODE" = moto ] || return 0
  if ! alive "$DIR/s3.pid"; then
    setsid env "${S3_ENV[@]}" "$PY" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$DIR/s3.log" 2>&1 &
    echo $! >"$DIR/s3.pid"
  fi
  wait_for "S3 API (moto)" "$S3_ENDPOINT/moto-api/" "$DIR/s3.pid" "$DIR/s3.log" 60
}

start() {
  MLREPO_PG_EXTRA_DB="${PG_DB}_auth" "$ROOT/scripts/postgres.sh" start
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  start_s3
  env "${S3_ENV[@]}" "$PY" -m mlrepo.server.stack bucket "$S3_ENDPOINT" "$BUCKET"
  if [ "$S3_MODE" = moto ]; then  # the team's DVC remote (.dvc/config, remote s3) beside it
    env "${S3_ENV[@]}" "$PY" -m mlrepo.server.stack bucket "$S3_ENDPOINT" mlrepo-dvc
  fi
  secret "$DIR/admin.password" "${MLFLOW_ADMIN_PASSWORD:-}"
  secret "$DIR/ci.password"
  secret "$DIR/flask.secret"
  (umask 077 && cat >"$DIR/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = postgresql+psycopg2://$PG_USER@127.0.0.1:$PG_PORT/${PG_DB}_auth
admin_username = $ADMIN
authorization_function = mlrepo.server.authz:authenticate
# Checking a password (PBKDF2) costs ~0.4 s of CPU here: each worker remembers a good login for
# 60 s. A changed password or a deleted user takes effect on the other worker within that time.
auth_cache_ttl_seconds = 60
INI
  )
  if alive "$DIR/server.pid"; then
    echo "MLflow server already running (pid $(cat "$DIR/server.pid"))"
  else
    # Its own session, so that stop ends the server and its workers together. The S3 settings
    # go to the server only: clients read and write artifacts through it (--serve-artifacts).
    # The login check is MLflow's basic auth plus read-only users (mlrepo/server/authz.py).
    # uvicorn kills a worker that misses its 5 s health ping, request and all: on a busy
    # machine a long search or upload did, so the ping may take a minute. MLflow's job runner
    # (GenAI evaluation jobs, unused here) would add 8 processes that poll all the time: off.
    setsid env "${S3_ENV[@]}" ${S3_ENDPOINT:+MLFLOW_S3_ENDPOINT_URL=$S3_ENDPOINT} \
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
      PYTHONPATH="$ROOT" MLREPO_READ_ONLY_USERS=ci MLFLOW_AUTH_CONFIG_PATH="$DIR/basic_auth.ini" MLFLOW_AUTH_ADMIN_PASSWORD="$(cat "$DIR/admin.password")" \
      MLFLOW_FLASK_SERVER_SECRET_KEY="$(cat "$DIR/flask.secret")" \
      "$PY" -m mlflow server --app-name basic-auth \
      --backend-store-uri "postgresql+psycopg2://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB" \
      --artifacts-destination "$ARTIFACTS" --serve-artifacts \
      --host 127.0.0.1 --port "$PORT" --workers 2 \
      --uvicorn-opts "--timeout-worker-healthcheck 60" >"$DIR/server.log" 2>&1 &
    echo $! >"$DIR/server.pid"
  fi
  wait_for "MLflow server" "$URL/health" "$DIR/server.pid" "$DIR/server.log" 120
  MLFLOW_TRACKING_USERNAME=$ADMIN MLFLOW_TRACKING_PASSWORD=$(cat "$DIR/admin.password") \
    "$PY" -m mlrepo.server.stack user "$URL" ci "$DIR/ci.password"
  echo "MLflow tracking server ready: $URL (artifacts: $ARTIFACTS; log: $DIR/server.log)"
  echo "  log in: export MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (make mlflow-server-credentials shows the admin's)"
}

stop_pid() {  # stop_pid PIDFILE: end the process group it started
  if [ -s "$1" ]; then
    pid=$(cat "$1")
    if kill -- "-$pid" 2>/dev/null; then
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
      kill -9 -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$1"
  fi
}

stop_server() {
  stop_pid "$DIR/server.pid"
  echo "MLflow server stopped"
}

stop() {
  stop_server
  stop_pid "$DIR/s3.pid"
  echo "S3 API stopped"
  MLREPO_PG_EXTRA_DB="${PG_DB}_auth" "$ROOT/scripts/postgres.sh" stop
}

credentials() {
  local user=$ADMIN file=$DIR/admin.password
  if [ -n "${CI_USER:-}" ]; then user=ci file=$DIR/ci.password; fi
  if [ ! -s "$file" ]; then
    echo "error: no $file: start the server first (make mlflow-server)" >&2
    return 2
  fi
  echo "export MLFLOW_TRACKING_USERNAME=$user"
  echo "export MLFLOW_TRACKING_PASSWORD=$(cat "$file")"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  stop-server) stop_server ;;
  credentials) credentials ;;
  *) echo "usage: $0 start|stop|stop-server|credentials" >&2; exit 2 ;;
esac
