#!/usr/bin/env bash
# The 4096 x 4096 picture of examples/README.md ("A large image"), from the repository root:
#   bash examples/large.sh [OUT.jpg]     (hours on 2 CPU cores, within 4 GiB of memory)
# It writes the whole picture to OUT.jpg (default /tmp/astronaut_4096.jpg: about 8 MB, not kept
# in the repository), then into examples/large/ the whole picture scaled down to 1024 px and a
# 1024 x 768 crop of it at full resolution.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/astronaut_4096.jpg}
mkdir -p examples/large
nst examples/astronaut.jpg examples/style_strokes.jpg -o "$out" --size 4096 --max-memory 4G
python - "$out" <<'PY'
import sys
from PIL import Image
img = Image.open(sys.argv[1])
img.resize((1024, 1024), Image.Resampling.LANCZOS).save("examples/large/whole_1024px.jpg", quality=85)
img.crop((1536, 1024, 2560, 1792)).save("examples/large/crop_full_resolution.jpg", quality=85)
PY
