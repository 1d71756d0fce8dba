#!/bin/bash
# The whole process's peak (VmHWM via /usr/bin/time -v) against the plan's planned_peak, untiled at 1024 px,
# without regions and with two regions (three guided parts with the rest).
cd "$(dirname "$0")/.."; . .venv/bin/activate
python -c "
import numpy as np; from PIL import Image
a=np.zeros((512,512),np.uint8); a[:, :256]=255; Image.fromarray(a).save('/tmp/half512.png')
b=np.zeros((512,512),np.uint8); b[:128]=255; Image.fromarray(b).save('/tmp/top512.png')"
for extra in "" "--region /tmp/half512.png=examples/style_mosaic.jpg --region /tmp/top512.png=examples/style_hubble.jpg"; do
  /usr/bin/time -v nst examples/astronaut.jpg examples/style_strokes.jpg -o /tmp/mem.png -q --size 1024 --tile off --iterations 3 --scales 1 $extra 2> /tmp/mem_time.txt
  peak=$(grep "Maximum resident" /tmp/mem_time.txt | awk '{print $6}')
  planned=$(nst info /tmp/mem.png | python -c "import json,sys; print(json.load(sys.stdin)['scales'][0]['planned_peak'])")
  echo "regions: ${extra:+2}${extra:-0}  peak RSS $((peak/1024)) MiB  planned_peak $((planned/1048576)) MiB"
done
