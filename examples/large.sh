#!/usr/bin/env bash
# The 4096 x 4096 picture of README.md's "Large images", from the repository root:
#   bash examples/large.sh [OUT.jpg [more nst options]]
#   bash examples/large.sh /tmp/astronaut_4096.jpg --device cuda      # on a GPU
# The run is nst's defaults at --size 4096 within --max-memory 4G (tiled: 4 GiB is far less
# than an untiled 4096 px evaluation needs, on a GPU as on the CPU); more options go to nst.
# It writes the whole picture to OUT.jpg (default /tmp/astronaut_4096.jpg: several MB, not kept
# in the repository), then into examples/large/: whole_1024px.jpg, the whole picture scaled down
# to 1024 px, crop_full_resolution.jpg, a 1024 x 768 crop of it at full resolution (the face),
# each JPEG under 1 MB, and provenance.json (`nst info`: settings, plan of each scale, time).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/astronaut_4096.jpg}
shift $(( $# > 0 ? 1 : 0 ))
mkdir -p examples/large
python -m nst examples/astronaut.jpg examples/style_strokes.jpg -o "$out" --size 4096 --max-memory 4G "$@"
python -m nst info "$out" > examples/large/provenance.json
python - "$out" <<'PY'
import io
import sys

from PIL import Image


def save_small(img, path, limit=1_000_000):
    """JPEG at the highest quality from 90 down that stays under ``limit`` bytes."""
    for quality in range(90, 40, -5):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, subsampling=0)
        if buf.tell() < limit or quality == 45:
            break
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {path}: {img.width}x{img.height}, quality {quality}, {buf.tell() / 1e6:.2f} MB")


img = Image.open(sys.argv[1]).convert("RGB")
w, h = img.size
scale = 1024 / max(w, h)
save_small(img.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS),
           "examples/large/whole_1024px.jpg")
cw, ch = min(1024, w), min(768, h)  # around the face: (0.44, 0.23) of the picture
x0 = min(max(0, round(0.44 * w) - cw // 2), w - cw)
y0 = min(max(0, round(0.23 * h) - ch // 2), h - ch)
save_small(img.crop((x0, y0, x0 + cw, y0 + ch)), "examples/large/crop_full_resolution.jpg")
print(f"the crop is ({x0}, {y0}) to ({x0 + cw}, {y0 + ch}) of {w}x{h}")
PY
