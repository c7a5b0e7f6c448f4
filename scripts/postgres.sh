#!/usr/bin/env bash
# A PostgreSQL server on loopback for the MLflow tracking server (Debian's postgresql).
#   scripts/postgres.sh start   install postgresql if missing, create the cluster, role and database
#                               when missing, start it on 127.0.0.1:$MLREPO_PG_PORT
#   scripts/postgres.sh stop    stop it
# Settings (environment): MLREPO_PG_DIR (data, default /var/lib/mlrepo-postgres),
# MLREPO_PG_PORT (default 5433), MLREPO_PG_DB / MLREPO_PG_USER (default mlflow), MLREPO_PG_EXTRA_DB
# (a second database owned by the same role, e.g. the tracking server's permission database).
# Loopback only, trusted without a password: a local development server, never exposed.
set -euo pipefail

PGDIR=${MLREPO_PG_DIR:-/var/lib/mlrepo-postgres}
PORT=${MLREPO_PG_PORT:-5433}
DB=${MLREPO_PG_DB:-mlflow}
ROLE=${MLREPO_PG_USER:-mlflow}

install() {
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    if ! apt-cache show postgresql >/dev/null 2>&1; then
      apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -n1)
}

as_postgres() {
  runuser -u postgres -- "$@"
}

sql() {
  as_postgres "$BIN/../bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "$1"
}

start() {
  install
  if [ ! -s "$PGDIR/PG_VERSION" ]; then
    mkdir -p "$PGDIR"
    chown postgres:postgres "$PGDIR"
    chmod 700 "$PGDIR"
    as_postgres "$BIN/initdb" -D "$PGDIR" -U postgres --auth-local=peer --auth-host=trust >/dev/null
  fi
  if ! as_postgres "$BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$PGDIR" -l "$PGDIR/server.log" -w -t 60 \
      -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  if [ "$(sql "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" != 1 ]; then
    sql "CREATE ROLE $ROLE LOGIN" >/dev/null
  fi
  for name in "$DB" ${MLREPO_PG_EXTRA_DB:-}; do
    if [ "$(sql "SELECT 1 FROM pg_database WHERE datname='$name'")" != 1 ]; then
      sql "CREATE DATABASE $name OWNER $ROLE" >/dev/null
    fi
  done
  echo "PostgreSQL ready: postgresql://$ROLE@127.0.0.1:$PORT/$DB"
}

stop() {
  install
  if [ -s "$PGDIR/PG_VERSION" ] && as_postgres "$BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null
  fi
  echo "PostgreSQL stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
