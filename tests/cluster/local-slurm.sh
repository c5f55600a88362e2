#!/usr/bin/env bash
# Starts or stops a throw-away single-node Slurm (munge, slurmctld, slurmd from Debian's
# packages) on loopback, entirely inside DIR. Run as root.
#   local-slurm.sh start DIR   -> prints "export SLURM_CONF=DIR/slurm.conf" on success; exit 77 if
#                                 the daemons are missing or cannot start (callers skip)
#   local-slurm.sh stop DIR    -> stops the daemons by pid
set -u
cmd=${1:?start|stop}; dir=${2:?DIR}

stop() {
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then kill "$(cat "$dir/$p.pid")" 2>/dev/null; fi
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null; rm -f "$dir/$p.pid"; fi
  done
}

skip() { echo "local-slurm: $*" >&2; stop; exit 77; }

if [ "$cmd" = stop ]; then stop; exit 0; fi

for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null 2>&1 || skip "$b not installed (apt-get install slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root (SlurmUser=root)"
mkdir -p "$dir"/{state,spool,log}
dir=$(cd "$dir" && pwd)

# munge: a fresh key and private socket.
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge.key"
munged --key-file="$dir/munge.key" --socket="$dir/munge.sock" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge.seed" --force 2>"$dir/log/munged.err" \
  || skip "munged did not start: $(cat "$dir/log/munged.err")"

# Free ports: derive from the folder name so parallel tests do not collide.
base=$(( 20000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 20000 ))
host=$(hostname -s)
cpus=$(nproc)
cat > "$dir/slurm.conf" <<CONF
ClusterName=sam2amgtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" 2>"$dir/log/slurmctld.err" || skip "slurmctld did not start: $(tail -3 "$dir/log/slurmctld.err")"
slurmd -f "$SLURM_CONF" 2>"$dir/log/slurmd.err" || skip "slurmd did not start: $(tail -3 "$dir/log/slurmd.err")"
for _ in $(seq 1 60); do
  state=$(sinfo -h -o '%T' 2>/dev/null | head -1)
  case "$state" in idle*|mixed*|allocated*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  sleep 0.5
done
skip "the node never became idle (state '${state:-none}'); see $dir/log"
