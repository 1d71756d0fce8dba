"""Make the region masks of examples/rocket.jpg (white: the region; grey: a soft edge).

    python examples/make_masks.py

rocket_sky.png: the sky, by thresholding: bluish pixels (blue above red) darker than the lights,
above the horizon, smoothed by a small blur so the border is soft. rocket_rocket.png: the rocket
and its launch tower, drawn as a rectangle with a rounded top. Any paint program makes a mask the
same way: paint the region white on black (or on a transparent layer, saved as PNG with alpha).
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent


def sky(photo: Image.Image) -> Image.Image:
    a = np.asarray(photo, np.int16)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    y = np.arange(a.shape[0])[:, None]
    mask = (b > r + 25) & (a.max(-1) < 200) & (y < 0.82 * a.shape[0])
    img = Image.fromarray((mask * 255).astype(np.uint8))
    return img.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.GaussianBlur(1.5))


def rocket(photo: Image.Image) -> Image.Image:
    img = Image.new("L", photo.size, 0)
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((302, 120, 342, 427), radius=18, fill=255)
    return img.filter(ImageFilter.GaussianBlur(1.5))


if __name__ == "__main__":
    photo = Image.open(HERE / "rocket.jpg").convert("RGB")
    sky(photo).save(HERE / "rocket_sky.png")
    rocket(photo).save(HERE / "rocket_rocket.png")
