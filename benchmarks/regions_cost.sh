#!/bin/bash
# Side by side: the same run without and with a half-and-half region, alternating, twice each.
cd "$(dirname "$0")/.."; . .venv/bin/activate
python -c "
import numpy as np; from PIL import Image
a=np.zeros((512,512),np.uint8); a[:, :256]=255; Image.fromarray(a).save('/tmp/half512.png')
a=np.zeros((400,600),np.uint8); a[:, :300]=255; Image.fromarray(a).save('/tmp/half600.png')"
for rep in 1 2; do
  for c in astronaut coffee; do
    m=/tmp/half512.png; [ $c = coffee ] && m=/tmp/half600.png
    nst examples/$c.jpg examples/style_strokes.jpg -o /tmp/sp_plain.jpg -q --log /tmp/sp_plain.json
    nst examples/$c.jpg examples/style_strokes.jpg -o /tmp/sp_reg.jpg -q --log /tmp/sp_reg.json --region $m=examples/style_mosaic.jpg
    python -c "
import json
def per(p):
    e=json.load(open(p))['evaluations']; return (e[-1]['seconds']-e[0]['seconds'])/(len(e)-1)
a,b=per('/tmp/sp_plain.json'),per('/tmp/sp_reg.json'); print('$c rep $rep: s/evaluation plain %.3f, regions %.3f, ratio %.2f'%(a,b,b/a))"
  done
done
