#!/usr/bin/env bash
# Make the gallery in examples/README.md: the astronaut under each style control, from the repository root.
#   bash examples/gallery.sh          (about 7 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
c=examples/astronaut.jpg s=examples/style_strokes.jpg m=examples/style_mosaic.jpg g=examples/gallery
mkdir -p "$g"
run() { out=$1; shift; echo "nst $*" >&2; nst "$@" -o "$g/$out" --size 256 -q; }

run default.jpg            $c $s
run luminance.jpg          $c $s --preserve-color luminance
run histogram.jpg          $c $s --preserve-color histogram
run blend.jpg              $c "$s+$m"
run mosaic.jpg             $c $m
run style_scale_0.5.jpg    $c $s --style-scale 0.5
run style_scale_2.jpg      $c $s --style-scale 2
run soft.jpg               $c $s --style-emphasis soft
run strong.jpg             $c $s --style-emphasis strong
run tv_20.jpg              $c $s --tv-weight 20
run coarse_to_fine.jpg     $c $s --scales 3 --contact-sheet "$g/progress_sheet.jpg" --gif "$g/progress.gif" --log "$g/progress.json"
nst plot "$g/progress.json" -o "$g/progress_plot.png"
