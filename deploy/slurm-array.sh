#!/usr/bin/env bash
# Run a fleetsim scenario as a Slurm job array: one shard per array task,
# then merge. Submit with:
#   sbatch --array=1-16 deploy/slurm-array.sh scenarios/default.toml 10000
#   # when the array is done (or chain it: sbatch --dependency=afterok:<jobid> ...):
#   fleetsim merge outputs/default/parts/part-*-of-16.json --out outputs/default
#SBATCH --job-name=fleetsim
# Two CPUs per task fits small nodes; give more on the command line
# (sbatch --cpus-per-task=16 ...): the script passes them on as --threads.
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --output=fleetsim-%A_%a.log
set -euo pipefail
SCENARIO=${1:?scenario file}
REPLICATIONS=${2:?total replications}
N=${SLURM_ARRAY_TASK_COUNT:?run as a job array}
K=${SLURM_ARRAY_TASK_ID:?run as a job array}
fleetsim run "$SCENARIO" --replications "$REPLICATIONS" --shard "$K/$N" \
  --threads "${SLURM_CPUS_PER_TASK:-1}" --quiet --out "outputs/$(basename "$SCENARIO" .toml)/parts"
