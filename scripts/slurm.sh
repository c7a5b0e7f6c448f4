#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for `launcher=slurm` sweeps and their tests.
#   scripts/slurm.sh start    install slurm-wlm + munge if missing, configure, start, wait for an idle node
#   scripts/slurm.sh stop     stop slurmd, slurmctld and munged (the ones this script started)
#   scripts/slurm.sh status   print the node state
# Needs root (it installs Debian packages and writes /etc/slurm/slurm.conf).
set -euo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/var/lib/mlrepo-slurm}
CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

configure() {
  mkdir -p /etc/slurm "$STATE_DIR/ctld" "$STATE_DIR/d" /run/munge /var/log/slurm
  cat >"$CONF" <<EOF
# Written by scripts/slurm.sh: one node, no accounting (submitit then reports state UNKNOWN).
ClusterName=mlrepo
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=20000 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  chown munge:munge /run/munge
}

node_state() {
  sinfo -h -N -o %T 2>/dev/null | head -n1 || true
}

start() {
  install
  configure
  if [ ! -S /run/munge/munge.socket.2 ] || ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
  fi
  for _ in $(seq 1 20); do
    [ -S /run/munge/munge.socket.2 ] && break
    sleep 0.5
  done
  if [ ! -s "$STATE_DIR/slurmctld.pid" ] || ! kill -0 "$(cat "$STATE_DIR/slurmctld.pid")" 2>/dev/null; then
    slurmctld
  fi
  if [ ! -s "$STATE_DIR/slurmd.pid" ] || ! kill -0 "$(cat "$STATE_DIR/slurmd.pid")" 2>/dev/null; then
    slurmd
  fi
  for _ in $(seq 1 60); do
    state=$(node_state)
    case "$state" in
      idle*|mixed*|allocated*) echo "SLURM node $NODE is $state"; return 0 ;;
      down*|drain*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  echo "error: the SLURM node $NODE did not become idle in 60 s (state: ${state:-none});" \
    "see /var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log" >&2
  return 1
}

stop_pidfile() {
  local pidfile=$1
  if [ -s "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
      # A slurmd still retrying its registration can ignore SIGTERM.
      if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$pidfile"
  fi
}

stop() {
  stop_pidfile "$STATE_DIR/slurmd.pid"
  stop_pidfile "$STATE_DIR/slurmctld.pid"
  # Waits until each daemon has exited, so that a `start` right after finds none half-stopped.
  stop_pidfile /run/munge/munged.pid
  echo "SLURM stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) echo "${NODE}: $(node_state)" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
