#!/usr/bin/env bash
# Scale-out on a real scheduler: starts a throwaway single-node Slurm
# cluster (munge + slurmctld + slurmd, configuration in a temporary
# folder), submits deploy/slurm-array.sh as a 3-task job array on a small
# scenario, merges the parts and checks that summary.json and
# replications.csv equal an unsharded run's byte for byte.
#
# Usage: tests/slurm/run.sh PATH/TO/fleetsim
# Exit: 0 passed, 1 failed, 77 skipped (not root, or Slurm/munge missing;
# .ci/run installs them where it can and then refuses a skip).
set -euo pipefail
BIN=$(realpath "${1:?path to the fleetsim binary}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" != 0 ]; then echo "slurm test: SKIPPED (needs root to start the daemons)"; exit 77; fi
for b in munged munge slurmctld slurmd sbatch squeue; do
  command -v "$b" >/dev/null || { echo "slurm test: SKIPPED ($b not installed: apt-get install slurm-wlm munge)"; exit 77; }
done

W=$(mktemp -d /tmp/fleetsim-slurm.XXXXXX)
chmod 755 "$W"
D="$W/slurm"
M="$W/munge"
mkdir -p "$D/state" "$D/spool" "$M"
chown munge:munge "$M" && chmod 711 "$M"
cleanup() {
  local rc=$?
  set +e
  local pids=()
  for p in "$D/slurmd.pid" "$D/slurmctld.pid"; do
    [ -f "$p" ] && pids+=("$(cat "$p")")
  done
  [ -n "${MUNGE_PID:-}" ] && pids+=("$MUNGE_PID")
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  # Wait for the daemons to be gone before removing their folders.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  rm -rf "$W" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT

# munge: its own socket, pid and log in the temporary folder, as its user.
MUNGE_SOCKET="$M/munge.socket"
su -s /bin/sh munge -c "munged --socket=$MUNGE_SOCKET --pid-file=$M/munged.pid --log-file=$M/munged.log --seed-file=$M/munged.seed" \
  || { echo "slurm test: FAILED (munged did not start)"; exit 1; }
MUNGE_PID=$(cat "$M/munged.pid")

HOST=$(hostname)
# A container has no cgroup control: linuxproc tracking, no task plugin.
cat > "$D/slurm.conf" <<CONF
ClusterName=fleetsim-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmdSpoolDir=$D/spool
StateSaveLocation=$D/state
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmctldPort=26817
SlurmdPort=26818
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$D/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

for _ in $(seq 1 30); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %T | grep -q idle || { echo "slurm test: FAILED (node never idle)"; tail -5 "$D/slurmctld.log" "$D/slurmd.log"; exit 1; }

JOB="$W/job"
mkdir -p "$JOB/bin"
ln -s "$BIN" "$JOB/bin/fleetsim"
cp "$ROOT/tests/slurm/scenario.toml" "$JOB/s.toml"
cd "$JOB"
export PATH="$JOB/bin:$PATH"
ID=$(sbatch --parsable --array=1-3 "$ROOT/deploy/slurm-array.sh" s.toml 12)
for _ in $(seq 1 300); do
  [ "$(squeue -h -j "$ID" 2>/dev/null | wc -l)" = 0 ] && break
  sleep 1
done
if [ "$(squeue -h -j "$ID" 2>/dev/null | wc -l)" != 0 ]; then
  echo "slurm test: FAILED (job array $ID still queued after 300 s)"; squeue; exit 1
fi
for k in 1 2 3; do
  [ -f "outputs/s/parts/part-$k-of-3.json" ] || { echo "slurm test: FAILED (task $k wrote no part)"; cat fleetsim-*.log; exit 1; }
done
fleetsim merge outputs/s/parts/part-*-of-3.json --out merged --quiet
fleetsim run s.toml --replications 12 --out full --quiet
for f in summary.json replications.csv; do
  cmp -s "merged/$f" "full/$f" || { echo "slurm test: FAILED ($f of the merged job array differs from the unsharded run)"; exit 1; }
done
echo "slurm test: passed (job array $ID of 3 tasks on a single-node Slurm cluster, merged output identical to the unsharded run)"
