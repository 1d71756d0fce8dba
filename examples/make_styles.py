"""Generate the two licence-clean example style images.

    python examples/make_styles.py            # writes next to this script
    python examples/make_styles.py OUT_DIR    # writes into OUT_DIR

Produces
  style_strokes.jpg  thick, swirling brush strokes in a night-sky palette
  style_mosaic.jpg   stained-glass Voronoi tiles with dark lead lines

Everything is drawn from a fixed random seed with numpy + Pillow only, so
the output is reproducible and free of third-party copyright.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
SEED = 1889  # the year "The Starry Night" was painted


def smooth_noise(rng, size, cells):
    """Smooth value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray(grid)  # float32 array -> Pillow mode "F"
    a = np.asarray(img.resize((size, size), Image.BICUBIC))
    return (a - a.min()) / (a.max() - a.min() + 1e-8)


def fractal_noise(rng, size, octaves=(4, 8, 16, 32)):
    """Sum of value-noise octaves (coarse ones weigh more), scaled to [0, 1]."""
    total = sum(smooth_noise(rng, size, c) / (i + 1) for i, c in enumerate(octaves))
    return (total - total.min()) / (total.max() - total.min())


# --------------------------------------------------------------------------
# Style 1: swirling brush strokes
# --------------------------------------------------------------------------

# (center_x, center_y, radius, strength) in units of the canvas size.
# Positive strength turns counter-clockwise.
SWIRLS = [
    (0.30, 0.34, 0.20, 1.0),
    (0.62, 0.48, 0.16, -1.0),
    (0.82, 0.16, 0.11, 1.0),
    (0.14, 0.80, 0.14, -1.0),
    (0.58, 0.86, 0.12, 1.0),
]
# Bright "stars": little suns with concentric rings, (x, y, radius).
STARS = [
    (0.82, 0.16, 0.075),
    (0.14, 0.22, 0.05),
    (0.47, 0.13, 0.04),
    (0.90, 0.62, 0.055),
    (0.36, 0.66, 0.045),
]

PALETTE = {
    "navy": (18, 32, 92),
    "blue": (34, 72, 168),
    "cobalt": (56, 110, 200),
    "sky": (120, 170, 225),
    "teal": (40, 140, 150),
    "yellow": (245, 205, 60),
    "gold": (225, 160, 30),
    "cream": (250, 240, 200),
    "white": (248, 250, 255),
}


def flow_angle(x, y, wobble):
    """Direction (radians) of the painted flow at canvas point (x, y) in [0, 1]."""
    # Base: a gently waving horizontal current.
    vx = 1.0
    vy = 0.55 * np.sin(6.0 * x + 4.0 * y) + 0.8 * (wobble - 0.5)
    for cx, cy, r, s in SWIRLS:
        dx, dy = x - cx, y - cy
        d2 = dx * dx + dy * dy
        w = 2.5 * s * np.exp(-d2 / (2 * r * r)) / np.sqrt(d2 + 1e-4)
        # Rotation plus a slight inward pull gives spirals instead of circles.
        vx += w * (-dy - 0.25 * s * dx)
        vy += w * (dx - 0.25 * s * dy)
    for cx, cy, r in STARS:
        dx, dy = x - cx, y - cy
        d2 = dx * dx + dy * dy
        w = 2.5 * np.exp(-d2 / (2 * (1.6 * r) ** 2)) / np.sqrt(d2 + 1e-4)
        vx += w * -dy
        vy += w * dx
    return np.arctan2(vy, vx)


def stroke_colour(rng, x, y, tone):
    """Pick a palette colour for a stroke starting at (x, y)."""
    for cx, cy, r in STARS:
        d = np.hypot(x - cx, y - cy) / r
        if d < 1.0:
            return PALETTE[rng.choice(["white", "cream", "yellow", "yellow"])]
        if d < 1.7:
            return PALETTE[rng.choice(["yellow", "gold", "cream", "sky"])]
    # The big swirls get a light ring so their spiral reads clearly.
    for cx, cy, r, _ in SWIRLS:
        d = np.hypot(x - cx, y - cy) / r
        if 0.45 < d < 0.95 and rng.random() < 0.75:
            return PALETTE[rng.choice(["sky", "white", "cobalt", "teal", "cream"])]
    # Bands of the "tone" field decide between dark, mid and light blues.
    if tone < 0.28:
        names = ["navy", "navy", "blue", "teal"]
    elif tone < 0.55:
        names = ["blue", "cobalt", "navy", "teal"]
    elif tone < 0.78:
        names = ["cobalt", "sky", "teal", "blue", "white"]
    else:
        names = ["sky", "white", "cream", "yellow", "cobalt"]
    return PALETTE[rng.choice(names)]


def jitter(rng, colour, amount):
    c = np.array(colour, dtype=np.float32) + rng.normal(0, amount, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def shade(colour, factor):
    return tuple(int(np.clip(v * factor, 0, 255)) for v in colour)


def trace(x, y, length, step, wobble_at):
    """Follow the flow field from (x, y) for `length` steps; returns points in [0, 1]."""
    pts = [(x, y)]
    for _ in range(length):
        a = flow_angle(x, y, wobble_at(x, y))
        x, y = x + step * np.cos(a), y + step * np.sin(a)
        pts.append((x, y))
    return pts


def make_strokes(size=SIZE, seed=SEED):
    rng = np.random.default_rng(seed)
    scale = 2  # draw at 2x and downsample for smooth, anti-aliased edges
    big = size * scale

    wobble = fractal_noise(rng, 64, (3, 6))
    tone = fractal_noise(rng, 64, (3, 6, 12))

    def sample(field, x, y):
        n = field.shape[0]
        return field[int(np.clip(y, 0, 0.999) * n), int(np.clip(x, 0, 0.999) * n)]

    def wobble_at(x, y):
        return sample(wobble, x, y)

    # Dark blue underpainting so any gaps read as deep shadow, not white.
    under = (0.5 + 0.5 * fractal_noise(rng, big, (4, 8)))[..., None] * np.array(PALETTE["navy"])
    canvas = Image.fromarray(under.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)

    # Three passes: broad strokes, medium, then fine detail on top.
    passes = [  # (count, width px at 1x, steps, step length)
        (1400, 11.0, 8, 0.012),
        (3200, 7.0, 7, 0.009),
        (4200, 4.0, 5, 0.007),
    ]
    for count, width, steps, step in passes:
        # Jittered grid starts keep coverage even; shuffled to avoid banding.
        n = int(np.ceil(np.sqrt(count)))
        gx, gy = np.meshgrid(np.arange(n), np.arange(n))
        starts = (np.stack([gx.ravel(), gy.ravel()], 1) + rng.random((n * n, 2))) / n
        starts = starts[rng.permutation(n * n)[:count]]
        for x0, y0 in starts:
            length = int(steps * rng.uniform(0.6, 1.4))
            pts = trace(x0, y0, length, step, wobble_at)
            xy = [(px * big, py * big) for px, py in pts]
            base = jitter(rng, stroke_colour(rng, x0, y0, sample(tone, x0, y0)), 14)
            w = max(2, int(width * scale * rng.uniform(0.75, 1.25)))
            # Darker rim first, then the body, then bristle streaks along it.
            rim = shade(base, 0.62)
            for colour, lw in ((rim, w + 2 * scale), (base, w)):
                draw.line(xy, fill=colour, width=lw, joint="curve")
                for px, py in (xy[0], xy[-1]):  # round brush ends
                    draw.ellipse([px - lw / 2, py - lw / 2, px + lw / 2, py + lw / 2], fill=colour)
            for _ in range(3):
                off = rng.uniform(-0.35, 0.35) * w
                ang = np.arctan2(xy[-1][1] - xy[0][1], xy[-1][0] - xy[0][0])
                ox, oy = -np.sin(ang) * off, np.cos(ang) * off
                streak = shade(base, rng.choice([0.75, 1.2, 1.3]))
                streak_xy = [(px + ox, py + oy) for px, py in xy]
                draw.line(streak_xy, fill=streak, width=max(1, scale), joint="curve")

    canvas = canvas.resize((size, size), Image.LANCZOS)
    return canvas.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))


# --------------------------------------------------------------------------
# Style 2: stained-glass mosaic
# --------------------------------------------------------------------------

GLASS = [
    (200, 30, 40),  # ruby
    (30, 70, 190),  # cobalt
    (20, 150, 90),  # emerald
    (240, 170, 20),  # amber
    (120, 40, 160),  # violet
    (235, 100, 20),  # orange
    (20, 160, 180),  # turquoise
    (250, 220, 90),  # pale yellow
]


def voronoi(points, size, chunk=64):
    """Per-pixel nearest point label and distance to the nearest cell border."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    pix = np.stack([xs.ravel(), ys.ravel()], 1)
    label = np.empty(len(pix), np.int32)
    edge = np.empty(len(pix), np.float32)
    for i in range(0, len(pix), chunk * size):
        p = pix[i : i + chunk * size]
        d2 = ((p[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        two = np.argpartition(d2, 1, axis=1)[:, :2]
        d_a = np.take_along_axis(d2, two, 1)
        order = np.argsort(d_a, axis=1)
        two = np.take_along_axis(two, order, 1)
        d_a = np.take_along_axis(d_a, order, 1)
        sep = np.linalg.norm(points[two[:, 0]] - points[two[:, 1]], axis=1)
        label[i : i + len(p)] = two[:, 0]
        # Exact distance to the bisector between the two nearest points.
        edge[i : i + len(p)] = (d_a[:, 1] - d_a[:, 0]) / (2 * sep + 1e-6)
    return label.reshape(size, size), edge.reshape(size, size)


def make_mosaic(size=SIZE, seed=SEED):
    rng = np.random.default_rng(seed + 1)

    # Rejection-sample points with a density that varies across the canvas,
    # so there are both large panes and clusters of small ones.
    density = fractal_noise(rng, size, (2, 4))
    pts = []
    while len(pts) < 420:
        x, y = rng.random(2) * size
        if rng.random() < 0.15 + 0.85 * density[int(y), int(x)] ** 1.5:
            pts.append((x, y))
    pts = np.array(pts, np.float32)

    # Two Lloyd relaxation steps make the panes less spiky.
    for _ in range(2):
        label, _ = voronoi(pts, size)
        ys, xs = np.mgrid[0:size, 0:size]
        cnt = np.bincount(label.ravel(), minlength=len(pts)) + 1e-6
        cx = np.bincount(label.ravel(), xs.ravel(), len(pts)) / cnt
        cy = np.bincount(label.ravel(), ys.ravel(), len(pts)) / cnt
        keep = cnt >= 1  # a pane with no pixels keeps its old point
        pts = np.where(keep[:, None], np.stack([cx, cy], 1), pts).astype(np.float32)
    label, edge = voronoi(pts, size)

    n = len(pts)
    colours = np.array(GLASS, np.float32)[rng.integers(0, len(GLASS), n)]
    colours *= rng.uniform(0.8, 1.1, (n, 1))  # per-pane brightness
    colours += rng.normal(0, 12, (n, 3))  # per-pane hue drift

    # Per-pane linear light gradient in a random direction.
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi, n)
    gx, gy = np.cos(ang)[label], np.sin(ang)[label]
    grad = ((xs - pts[label, 0]) * gx + (ys - pts[label, 1]) * gy) / 40.0
    light = 1.0 + 0.25 * np.tanh(grad)

    # Glass is darker near the lead (inner shadow) and mottled.
    inner = 0.65 + 0.35 * np.clip((edge - 2.0) / 10.0, 0, 1)
    grain = 0.8 + 0.4 * fractal_noise(rng, size, (32, 64, 128))
    img = colours[label] * (light * inner * grain)[..., None]

    # Lead lines: dark, with a lighter ridge down the middle (a bevel).
    half = 2.6
    lead_mask = np.clip(half + 0.8 - edge, 0, 1)  # 1 on the lead, smooth edge
    ridge = np.clip(1 - edge / half, 0, 1) ** 2
    lead = (14 + 45 * ridge)[..., None] * np.array([1.0, 1.0, 1.05])
    img = img * (1 - lead_mask[..., None]) + lead * lead_mask[..., None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    make_strokes().save(out / "style_strokes.jpg", quality=92)
    make_mosaic().save(out / "style_mosaic.jpg", quality=92)
    print(f"wrote {out / 'style_strokes.jpg'} and {out / 'style_mosaic.jpg'}")


if __name__ == "__main__":
    main()
