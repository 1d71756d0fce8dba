#!/bin/bash
# Every GPU of one machine busy with GNU parallel: one nst per GPU, each a shard of the folder.
#
#     bash examples/cluster/parallel.sh photos/ painting.jpg styled/
#
# {%} is the job slot (1..N): slot k sees only GPU k-1; {#} numbers the shards 1..N.
set -euo pipefail
CONTENT=${1:-photos/} STYLE=${2:-painting.jpg} OUT=${3:-styled/}
N=${GPUS:-$(nvidia-smi -L 2>/dev/null | wc -l)}
[ "$N" -ge 1 ] || N=1
seq "$N" | parallel -j "$N" --line-buffer \
    'CUDA_VISIBLE_DEVICES=$(({%} - 1)) nst '"$CONTENT $STYLE"' -o '"$OUT"' --shard $(({#} - 1))/'"$N"' --skip-existing -q'
