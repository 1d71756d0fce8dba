#!/bin/bash
# A Slurm array over a folder of photos, one shard per task:
#
#     sbatch --array=1-8 examples/cluster/slurm.sh photos/ painting.jpg styled/ [nst options...]
#
# Each task takes its part of the sorted job list (--shard auto reads SLURM_ARRAY_TASK_ID and the
# array's range), skips outputs that exist, and leaves outputs another worker is on alone (claim
# files beside them), so resubmitting the whole array, or only the failed tasks of the original
# 1-8 as shards of 8 (NST_SHARD_BASE=1: a part of an array cannot tell whether it counts from 0 or 1),
#
#     NST_SHARD_BASE=1 sbatch --array=3,5 examples/cluster/slurm.sh photos/ painting.jpg styled/ --shard auto/8
#
# finishes the folder without redoing anything.
# In the morning: nst status photos/ painting.jpg -o styled/ --shards 8
#SBATCH --job-name=nst
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=nst-%A_%a.out
#SBATCH --signal=B:TERM@120
set -euo pipefail
CONTENT=${1:-photos/} STYLE=${2:-painting.jpg} OUT=${3:-styled/}
shift $(( $# < 3 ? $# : 3 ))
# exec: nst receives Slurm's SIGTERM itself, keeps its partial result, and a resubmission resumes it.
# Its log (nst-JOB_TASK.out): which shard, a line per output, and one JSON line per output (--json).
exec nst "$CONTENT" "$STYLE" -o "$OUT" --shard auto --skip-existing --json "$@"
