#!/bin/bash
# Start a single-node Slurm (Debian slurm-wlm 22.05 + munge) on localhost, no systemd, for
# tests/test_slurm.py (run as root; it writes /etc/slurm/slurm.conf: a test machine only).
# Idempotent: re-running reuses running daemons and only starts what is missing.
# No cgroups (proctrack/linuxproc, task/none): the sandbox has no systemd and no cgroup plugins.
set -euo pipefail
log() { echo "[slurm] $*"; }
T0=$(date +%s)

# 1. Install packages (only if missing). Debian's postinst creates the slurm/munge users,
#    /var/lib/slurm, /var/log/slurm and a munge key; policy-rc.d stops it starting services.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm + munge"
  export DEBIAN_FRONTEND=noninteractive
  L=$(mktemp)
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >"$L" 2>&1 \
    || { tail -20 "$L" >&2; exit 1; }
  log "install took $(( $(date +%s) - T0 ))s"
fi
T1=$(date +%s)

HOST=$(hostname -s)
# 2. Hostname must resolve (slurmd/slurmctld look themselves up); add it if not.
getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >> /etc/hosts

# 3. Munge key (owned by munge, mode 0400) and runtime dirs.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
install -d -o root -g root -m 0755 /run/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm

# 4. Minimal slurm.conf; node hardware line read at run time from `slurmd -C`.
NODELINE=$(slurmd -C | head -1)   # NodeName=<host> CPUs=.. Sockets.. RealMemory=..
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$NODELINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }   # pidfile -> running?

# 5. Daemons (each forks into the background and writes a pidfile).
alive /run/munge/munged.pid || { log "starting munged"; runuser -u munge -- munged; }
munge -n | unmunge >/dev/null || { echo "munge self-test failed" >&2; exit 1; }
if alive /run/slurm/slurmctld.pid; then scontrol reconfigure >/dev/null || true
else log "starting slurmctld"; slurmctld; fi
alive /run/slurm/slurmd.pid || { log "starting slurmd"; slurmd; }

# 6. Wait (max 60 s) until the node is idle; resume it if it came up down/drained.
for i in $(seq 60); do
  ST=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  case "$ST" in
    idle) log "node $HOST idle after $(( $(date +%s) - T1 ))s (start-up)"; sinfo; exit 0 ;;
    down*|drain*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
echo "node not idle after 60s (state: ${ST:-none}); see /var/log/slurm/*.log" >&2; exit 1
