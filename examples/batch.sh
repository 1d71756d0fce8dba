#!/usr/bin/env bash
# Stylize a folder of photos with one style or a folder of styles; safe to re-run and to shard.
#
# Usage: examples/batch.sh PHOTOS STYLE OUTDIR [nst options...]
#   examples/batch.sh ~/photos examples/style_strokes.jpg styled --size 512
#   SHARD=2/4 examples/batch.sh ~/photos styles/ styled      # part 2 of 0..3, e.g. on a 3rd machine
# PHOTOS and STYLE are images or folders; outputs are OUTDIR/{photo}_{style}.jpg.
# One JSON line per image goes to OUTDIR/nst-log.jsonl (nst-log-K.jsonl for SHARD=K/N).
# Re-running after a crash, Ctrl-C or a time limit does only the images that are missing (the one
# that was in progress resumes from its partial result).
# Environment: SHARD=K/N (K from 0), NST (the nst command, default: nst).
set -euo pipefail

if [ "$#" -lt 3 ]; then
  sed -n '4,11p' "$0" | cut -c3- >&2
  exit 2
fi
photos=$1 style=$2 outdir=$3
shift 3

read -r -a nst <<<"${NST:-nst}"
args=(--skip-existing --json)
log="$outdir/nst-log.jsonl"
if [ -n "${SHARD:-}" ]; then
  args+=(--shard "$SHARD")
  log="$outdir/nst-log-${SHARD%%/*}.jsonl"
fi
# Progress bars on a terminal only; in a batch system's log a failure or the summary is enough.
[ -t 2 ] || args+=(--quiet)
mkdir -p "$outdir"

# nst goes on past a bad image (naming it on stderr) and exits 1 at the end: keep the status.
status=0
"${nst[@]}" "$photos" "$style" -o "$outdir" "${args[@]}" "$@" >>"$log" || status=$?

case $status in
  0) echo "batch.sh: done; images in $outdir, log in $log" >&2 ;;
  1) echo "batch.sh: some images failed (named above, status \"failed\" in $log);" \
          "fix or remove them and re-run: finished images are skipped" >&2 ;;
  130|143) echo "batch.sh: stopped by a signal; the image in progress is kept beside its output" \
          "(*.partial.*): re-run to finish" >&2 ;;
  *) echo "batch.sh: nst stopped with status $status (bad arguments?)" >&2 ;;
esac
exit "$status"
