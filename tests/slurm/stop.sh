#!/bin/bash
# Stop slurmd, slurmctld and munged started by start.sh (by pidfile, never by name).
stop() {   # $1 = pidfile; SIGTERM, then wait up to 15 s, then SIGKILL
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  echo "[slurm] stopping $1 (pid $pid)"
  kill "$pid"
  for _ in $(seq 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$1"
}
stop /run/slurm/slurmd.pid
stop /run/slurm/slurmctld.pid
stop /run/munge/munged.pid
echo "[slurm] done"
