"""Regions (issue #19): does each part of the picture get its own style, and how wide is the border?

    python benchmarks/regions.py --out /tmp/regions_bench
    python benchmarks/regions.py --pairs cat:great_wave:style_mosaic --modes simple --no-small
    python benchmarks/regions.py --out /tmp/regions_bench --reuse    # judge again, no new runs

Each pair is CONTENT:A:B (a name in examples/ or ../shared/eval, or a path). With nst's
defaults (Config: size 384, 50 evaluations, init adain, the network in bfloat16 where the CPU
has it) and the Python API (nst.core.regions.Region), every pair is run

- once with style B alone (a control), and
- once per guidance mode with a half-and-half mask: the left half a Region with style A, the
  rest (the right half) the run's own style B. The modes are how a region's pixel guidance T_r
  is brought to a layer of total stride s (``nst.core.regions.at_layer``, monkeypatched for the
  run only): ``simple``, nst's average over each s x s block; ``inside``, the guidance eroded
  (min-pooled) by the layer's receptive-field radius, then min-pooled over the block, so that a
  position counts only where its whole receptive field lies inside the region.

plus one run of the first pair with a centred rectangle covering 10% of the picture (style A;
B elsewhere), in the simple mode.

Each output is saved as PNG and judged as read back, in float32 by benchmarks/judge.py's
network (torchvision VGG19 with nst's weights, average pooling), never by nst's own:

1. Halves: for each half h and style layer l, the guided Gram of the output under h's mask
   (brought to l by nst's at_layer, in both modes) against the plain Grams of A and B (each
   style at long edge style_scale x the content's), d = sum((G_out - G_style)^2) / (4 n_C^2).
   Reported: d(own)/d(other) per layer and for the sum over layers (equal lambdas), and the
   lambda-weighted sums of d(own) and d(other) themselves (against the control's). Success:
   below 1 for each half of every pair. The control (style B alone) gives the same ratio for
   its left half, d_A/d_B, which should be above 1.
2. Border: strips 24 px wide (full height) every 4 px; in each, s(x) = d_A / (d_A + d_B) from
   the strip's guided Grams at conv2_1 and conv3_1 (their d summed). Reported: the width over
   which s rises from 0.25 to 0.75 around the border, the offset of s = 0.5 from the border
   (negative: B reaches into the left half), and the plateaus L, R (median s on the outer
   quarters); also the width from L + (R - L)/4 to L + 3(R - L)/4, for a plateau near 0.25.
   A collage of the two style images cut at the border (no optimisation) gives the width a
   perfectly sharp border measures with these strips: the instrument's floor.
3. Small region: the ratio own/other inside the 10% rectangle and in the rest.

Side-by-side sheets go to OUT/<pair>.png: top row content | style A | style B, bottom row
B alone | regions (simple) | regions (inside); the numbers as Markdown tables on stdout and
as OUT/results.json. Outputs of ../shared/eval images must stay out of the repository.
Ten runs of nst's defaults (three per pair, one for the rectangle), then about 3 min of judging.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from nst import Config
from nst.core import regions
from nst.core.costs import guided_gram
from nst.core.stylizer import Stylizer, prepare_image
from nst.core.targets import StyleTargets
from nst.pixels.images import load_image, resize_long_edge

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"  # ../shared/eval beside the project: for evaluation only
DEFAULT_PAIRS = ("astronaut:style_mosaic:style_hubble",   # stained glass | dark, sparse stars
                 "coffee:oil_paint:starry_night",          # thick green/orange paint | blue swirls
                 "facade:style_strokes:mosaic")            # blue strokes | grey stone tiles
MODES = ("simple", "inside")
SIMPLE_AT_LAYER = regions.at_layer  # nst's own, kept before any monkeypatching; the judge's
BORDER_LAYERS = ("conv2_1", "conv3_1")
STRIP, STEP = 24, 4  # border profile: strip width and step, px
SMALL_SHARE = 0.10


@dataclass(frozen=True)
class Pair:
    """A content and two styles: A for the left half (the Region), B for the rest."""

    content: Path
    a: Path
    b: Path

    @property
    def name(self) -> str:
        return f"{self.content.stem}_{self.a.stem}_{self.b.stem}"


def resolve(name: str) -> Path:
    """A path, or a name (with or without .jpg) in examples/ or ../shared/eval."""
    for p in (Path(name), ROOT / "examples" / name, EVAL / name):
        for q in (p, p.with_name(p.name + ".jpg")):
            if q.is_file():
                return q
    raise SystemExit(f"no image {name!r} (a path, or a name in examples/ or {EVAL})")


def parse_pair(spec: str) -> Pair:
    parts = spec.split(":")
    if len(parts) != 3:
        raise SystemExit(f"a pair is CONTENT:A:B, not {spec!r}")
    return Pair(*(resolve(p) for p in parts))


# ---- masks and guidance modes ---------------------------------------------------------------

def left_half(h: int, w: int) -> Tensor:
    """1 on the columns left of w // 2 (the border), 0 on the right."""
    m = torch.zeros(h, w)
    m[:, : w // 2] = 1.0
    return m


def centred_rect(h: int, w: int, share: float = SMALL_SHARE) -> Tensor:
    """1 on a centred rectangle of the picture's aspect ratio covering ``share`` of it."""
    rh, rw = round(h * math.sqrt(share)), round(w * math.sqrt(share))
    m = torch.zeros(h, w)
    m[(h - rh) // 2: (h - rh) // 2 + rh, (w - rw) // 2: (w - rw) // 2 + rw] = 1.0
    return m


def receptive_radii(st: Stylizer) -> dict[int, int]:
    """{total stride: receptive-field radius in px} of cfg's style layers in the run's network
    (3x3 convs and 2x2 pools: each adds (k - 1) x the stride so far to the field)."""
    wanted = {n for n, _ in st.cfg.style_layers}
    field, stride, out = 1, 1, {}
    for m, name in st.net.steps():
        if isinstance(m, nn.Conv2d):
            field += (m.kernel_size[0] - 1) * stride
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            field += (k - 1) * stride
            stride *= 2
        if name in wanted:
            if stride in out:
                raise SystemExit("the inside mode needs one style layer per stride")
            out[stride] = field // 2
    return out


def erode(T: Tensor, radius: int) -> Tensor:
    """T (1, 1, H, W) min-pooled over a (2 radius + 1)^2 square (separably); outside the picture
    counts as inside the region (replicate padding): only the other regions erode it."""
    if radius <= 0:
        return T
    k = 2 * radius + 1
    x = F.pad(-T, (radius, radius, 0, 0), mode="replicate")
    x = F.max_pool2d(x, (1, k), stride=1)
    x = F.pad(x, (0, 0, radius, radius), mode="replicate")
    return -F.max_pool2d(x, (k, 1), stride=1)


def inside_at_layer(radii: dict[int, int], fallbacks: list) -> Callable[[Tensor, int], Tensor]:
    """An ``at_layer`` that keeps only positions whose receptive field lies inside the region:
    T eroded by the layer's radius, then the minimum over each stride x stride block. Where that
    leaves nothing (a region narrower than the field), nst's average instead, noted in
    ``fallbacks``."""
    def at_layer(T: Tensor, stride: int) -> Tensor:
        L = erode(T, radii.get(stride, 0))
        L = (L if stride == 1 else -F.max_pool2d(-L, stride)).squeeze(0).squeeze(0)
        if float(L.sum()) <= 0:
            fallbacks.append(stride)
            return SIMPLE_AT_LAYER(T, stride)
        return L
    return at_layer


@contextlib.contextmanager
def guidance_mode(mode: str, radii: dict[int, int], fallbacks: list):
    """nst.core.regions.at_layer swapped for ``mode``'s during the block (the run, not the judge)."""
    if mode == "simple":
        yield
        return
    regions.at_layer = inside_at_layer(radii, fallbacks)
    try:
        yield
    finally:
        regions.at_layer = SIMPLE_AT_LAYER


# ---- the runs -------------------------------------------------------------------------------

class Runner:
    """One Stylizer with nst's defaults on the CPU, and its style targets, for every run."""

    def __init__(self, size: int, iterations: int = Config.iterations, reuse: bool = False) -> None:
        self.st = Stylizer(Config(size=size, device="cpu", iterations=iterations))
        self.targets = StyleTargets(self.st)
        self.radii = receptive_radii(self.st)
        self.times: list[tuple[str, float]] = []
        self.reuse = reuse  # judge the picture already at ``out`` instead of running again

    def style(self, path: Path) -> tuple:
        """A style's Targets and its (image, weight) pairs (the AdaIN start's)."""
        img = load_image(path)
        return self.targets.of([(str(path), img, 1.0)]), [(img, 1.0)]

    def run(self, content: Image.Image, pair: Pair, out: Path, mask: Tensor | None = None,
            mode: str = "simple") -> Image.Image:
        """Style B over the picture, and with ``mask`` a Region of style A; the result saved to
        ``out`` (PNG) and read back, as the judge must see it."""
        if self.reuse and out.is_file():
            return load_image(out)
        targets_b, images_b = self.style(pair.b)
        parts = []
        if mask is not None:
            targets_a, images_a = self.style(pair.a)
            parts = [regions.Region(mask, targets_a, images=images_a, name="A")]
        fallbacks: list[int] = []
        start = time.perf_counter()
        with guidance_mode(mode, self.radii, fallbacks):
            result = self.st.run(content, targets_b, images_b, regions=parts)
        seconds = time.perf_counter() - start
        self.times.append((out.stem, seconds))
        if fallbacks:
            print(f"  {out.stem}: inside guidance empty at strides {sorted(set(fallbacks))}: averaged there",
                  file=sys.stderr)
        result.image.save(out)
        print(f"  {out.stem}: {seconds:.1f} s", file=sys.stderr, flush=True)
        return load_image(out)


# ---- the judge ------------------------------------------------------------------------------

class Scorer:
    """benchmarks/judge.py's float32 network: activations and Grams of pictures as saved."""

    def __init__(self, pair: Pair, size: int, cfg: Config, strides: dict[str, int]) -> None:
        sys.path.insert(0, str(Path(__file__).parent))
        from judge import Judge, _tensor
        grad = torch.is_grad_enabled()
        self.judge = Judge(pair.content, pair.a, size, cfg)  # only its network is used
        torch.set_grad_enabled(grad)  # Judge turns autograd off for the whole process
        self.tensor, self.cfg, self.strides = _tensor, cfg, strides
        self.layers = [n for n, _ in cfg.style_layers]

    @torch.no_grad()
    def features(self, img: Image.Image) -> dict[str, Tensor]:
        """Float32 activations at the style layers, as (n_C, n_H, n_W) float64."""
        feats = self.judge._features(self.tensor(img))
        return {n: feats[n][0].double() for n in self.layers}

    def style_grams(self, path: Path, long_edge: int) -> dict[str, Tensor]:
        """A style's plain Grams, the style at style_scale x the content's long edge (as nst)."""
        img = resize_long_edge(load_image(path), max(16, round(self.cfg.style_scale * long_edge)))
        return {n: guided_gram(a, torch.ones(a.shape[1:], dtype=a.dtype)) for n, a in self.features(img).items()}

    def distances(self, feats: dict[str, Tensor], T: Tensor, grams: dict[str, Tensor],
                  layers=None) -> dict[str, float]:
        """d^l = sum((G_r - G_style)^2) / (4 n_C^2), G_r the guided Gram under pixel guidance
        ``T`` (1, 1, H, W) brought to each layer by nst's at_layer (the average)."""
        out = {}
        for n in layers or self.layers:
            a, t = crop(feats[n], SIMPLE_AT_LAYER(T, self.strides[n]).double())
            d = (guided_gram(a, t) - grams[n]).pow(2).sum() / (4 * a.shape[0] ** 2)
            out[n] = float(d)
        return out

    def ratios(self, feats, T, own, other) -> dict[str, float]:
        """d(own)/d(other) per layer and for the sum over layers (equal lambdas); "d_own" and
        "d_other": the sums themselves (lambda = 1/L each)."""
        d_own, d_other = self.distances(feats, T, own), self.distances(feats, T, other)
        out = {n: d_own[n] / d_other[n] for n in self.layers}
        out["sum"] = sum(d_own.values()) / sum(d_other.values())
        out["d_own"], out["d_other"] = (sum(d.values()) / len(d) for d in (d_own, d_other))
        return out


def crop(a: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Activations (n_C, n_H, n_W) and guidance (n_H, n_W) cut to the guidance's bounding box
    (the guided Gram is unchanged: positions outside weigh 0)."""
    rows, cols = t.sum(1).nonzero(), t.sum(0).nonzero()
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    return a[:, r0:r1, c0:c1], t[r0:r1, c0:c1]


def pixel(mask: Tensor) -> Tensor:
    return mask[None, None].float()


def halves(scorer: Scorer, img: Image.Image, ga, gb) -> dict[str, dict[str, float]]:
    """Ratios own/other of each half of ``img``: left (own A), right (own B)."""
    feats = scorer.features(img)
    left = pixel(left_half(img.height, img.width))
    return {"left": scorer.ratios(feats, left, ga, gb), "right": scorer.ratios(feats, 1 - left, gb, ga)}


# ---- the border -----------------------------------------------------------------------------

def border_profile(scorer: Scorer, img: Image.Image, ga, gb) -> tuple[list[float], list[float]]:
    """s(x) = d_A / (d_A + d_B) of full-height strips STRIP px wide every STEP px (x: the
    strip's centre), d summed over BORDER_LAYERS."""
    feats = scorer.features(img)
    xs, s = [], []
    for x0 in range(0, img.width - STRIP + 1, STEP):
        T = torch.zeros(1, 1, img.height, img.width)
        T[..., x0: x0 + STRIP] = 1.0
        d_a = sum(scorer.distances(feats, T, ga, BORDER_LAYERS).values())
        d_b = sum(scorer.distances(feats, T, gb, BORDER_LAYERS).values())
        xs.append(x0 + STRIP / 2)
        s.append(d_a / (d_a + d_b))
    return xs, s


def crossings(xs: list[float], s: list[float], level: float) -> list[float]:
    """The x where the piecewise-linear s(x) crosses ``level``."""
    out = []
    for x0, x1, s0, s1 in zip(xs, xs[1:], s, s[1:]):
        if (s0 - level) * (s1 - level) <= 0 and s0 != s1:
            out.append(x0 + (level - s0) / (s1 - s0) * (x1 - x0))
    return out


def border_width(xs: list[float], s: list[float], border: float, width: int) -> dict:
    """Around the border: the width over which s rises from 0.25 to 0.75 and the offset of its
    0.5 crossing from the border; the same relative to the plateaus L, R (median s over the
    outer quarters), from L + (R - L)/4 to L + 3(R - L)/4; None where s does not reach a level."""
    def median(v):
        return float(torch.tensor(v).median()) if v else None
    left = median([v for x, v in zip(xs, s) if x < width / 4])
    right = median([v for x, v in zip(xs, s) if x > 3 * width / 4])
    out = {"left": left, "right": right, **transition(xs, s, border, 0.25, 0.5, 0.75)}
    rel = transition(xs, s, border, *(left + f * (right - left) for f in (0.25, 0.5, 0.75)))
    out.update(rel_width=rel["width"], rel_offset=rel["offset"])
    return out


def transition(xs, s, border: float, lo: float, mid: float, hi: float) -> dict:
    """The width from s = lo to s = hi through the crossing of ``mid`` nearest the border, and
    that crossing's offset from the border (None where a level is not reached)."""
    mids = crossings(xs, s, mid)
    if not mids:
        return {"width": None, "offset": None}
    x_mid = min(mids, key=lambda x: abs(x - border))
    below = [x for x in crossings(xs, s, lo) if x <= x_mid]
    above = [x for x in crossings(xs, s, hi) if x >= x_mid]
    return {"width": min(above) - max(below) if below and above else None, "offset": x_mid - border}


def collage(pair: Pair, w: int, h: int) -> Image.Image:
    """Style A's picture on the left half, B's on the right, each fitted to w x h: a perfectly
    sharp border, for the floor of the width measured."""
    from PIL import ImageOps
    a, b = (ImageOps.fit(load_image(p), (w, h), Image.Resampling.LANCZOS) for p in (pair.a, pair.b))
    b.paste(a.crop((0, 0, w // 2, h)), (0, 0))
    return b


# ---- pictures and tables --------------------------------------------------------------------

def sheet(cells: list[tuple[str, Image.Image | None]], w: int, h: int, cols: int = 3) -> Image.Image:
    """The cells (label, picture fitted to w x h; None: blank) in rows of ``cols``, labelled."""
    from PIL import ImageDraw, ImageOps
    rows = math.ceil(len(cells) / cols)
    out = Image.new("RGB", (cols * w, rows * h), "white")
    draw = ImageDraw.Draw(out)
    for i, (label, img) in enumerate(cells):
        x, y = (i % cols) * w, (i // cols) * h
        if img is not None:
            out.paste(ImageOps.fit(img, (w, h), Image.Resampling.LANCZOS), (x, y))
        draw.rectangle((x, y, x + 6 * len(label) + 6, y + 14), fill="black")
        draw.text((x + 3, y + 2), label, fill="white")
    return out


def fmt(v: float | None, spec: str = ".3g") -> str:
    return "n/r" if v is None else format(v, spec)


def ratio_table(rows: list[tuple[str, str, str, dict]], layers: list[str]) -> str:
    """Markdown: pair | run | part | own/other per layer | over the layers | d own, d other."""
    head = f"| pair | run | part | {' | '.join(layers)} | Σ (equal λ) | Σλ d own | Σλ d other |"
    lines = [head, "|" + " --- |" * 3 + " ---: |" * (len(layers) + 3)]
    for pair, run, part, r in rows:
        cells = " | ".join(fmt(r[n]) for n in [*layers, "sum", "d_own", "d_other"])
        lines.append(f"| {pair} | {run} | {part} | {cells} |")
    return "\n".join(lines)


def border_table(rows: list[tuple[str, str, dict]]) -> str:
    """Markdown: pair | picture | plateaus | 0.25 -> 0.75 width and 0.5 offset | the same
    relative to the plateaus."""
    lines = [("| pair | picture | s left plateau | s right plateau | width 0.25→0.75 (px) | s=0.5 offset (px) "
              "| width 25→75% of plateau step (px) | its mid offset (px) |"),
             "| --- | --- |" + " ---: |" * 6]
    for pair, run, b in rows:
        lines.append(f"| {pair} | {run} | {fmt(b['left'])} | {fmt(b['right'])} | {fmt(b['width'], '.0f')} | "
                     f"{fmt(b['offset'], '+.0f')} | {fmt(b['rel_width'], '.0f')} | {fmt(b['rel_offset'], '+.0f')} |")
    return "\n".join(lines)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


# ---- the benchmark --------------------------------------------------------------------------

def bench_pair(runner: Runner, scorer: Scorer, pair: Pair, modes, out: Path, res: dict) -> None:
    """The control and each mode's half-and-half run of one pair: ratios, border, sheet."""
    size = runner.st.cfg.size
    content = prepare_image(pair.content, size)
    w, h = content.size
    ga, gb = scorer.style_grams(pair.a, max(w, h)), scorer.style_grams(pair.b, max(w, h))
    pictures = {"B alone": runner.run(content, pair, out / f"{pair.name}_B_alone.png")}
    for mode in modes:
        pictures[mode] = runner.run(content, pair, out / f"{pair.name}_{mode}.png", left_half(h, w), mode)
    for run, img in pictures.items():
        for part, r in halves(scorer, img, ga, gb).items():
            res["ratios"].append((pair.name, run, part, r))
    for run, img in [*((m, pictures[m]) for m in modes), ("collage (sharp)", collage(pair, w, h))]:
        xs, s = border_profile(scorer, img, ga, gb)
        res["border"].append((pair.name, run, border_width(xs, s, w // 2, w)))
        res["profiles"][f"{pair.name} {run}"] = {"x": xs, "s": s}
    cells = [("content", content), ("style A (left)", load_image(pair.a)), ("style B (rest)", load_image(pair.b)),
             ("B alone", pictures["B alone"]), *((f"regions, {m}", pictures.get(m)) for m in MODES)]
    sheet(cells, w, h).save(out / f"{pair.name}.png")


def bench_small(runner: Runner, scorer: Scorer, pair: Pair, out: Path, res: dict) -> None:
    """A centred rectangle of SMALL_SHARE of the picture with style A (simple mode), B elsewhere."""
    content = prepare_image(pair.content, runner.st.cfg.size)
    w, h = content.size
    mask = centred_rect(h, w)
    img = runner.run(content, pair, out / f"{pair.name}_small.png", mask)
    ga, gb = scorer.style_grams(pair.a, max(w, h)), scorer.style_grams(pair.b, max(w, h))
    feats = scorer.features(img)
    share = float(mask.mean())
    res["small"].append((pair.name, f"{share:.0%} rect", "rectangle (own A)", scorer.ratios(feats, pixel(mask), ga, gb)))
    res["small"].append((pair.name, f"{share:.0%} rect", "rest (own B)", scorer.ratios(feats, 1 - pixel(mask), gb, ga)))
    sheet([("content", content), ("regions, 10% rect", img), ("style A (rect)", load_image(pair.a))],
          w, h).save(out / f"{pair.name}_small_sheet.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="CONTENT:A:B, A on the left half")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--size", type=int, default=Config.size)
    p.add_argument("--iterations", type=int, default=Config.iterations, help="evaluations per run (a quick check)")
    p.add_argument("--no-small", action="store_true", help="skip the 10%% rectangle run")
    p.add_argument("--reuse", action="store_true", help="judge the pictures already in OUT (no runs for them)")
    p.add_argument("--out", type=Path, default=Path("/tmp/regions_bench"))
    a = p.parse_args()
    if a.out.resolve().is_relative_to(ROOT):
        raise SystemExit("--out must be outside the repository (outputs of ../shared/eval images)")
    a.out.mkdir(parents=True, exist_ok=True)
    pairs = [parse_pair(s) for s in a.pairs]
    start = time.perf_counter()
    runner = Runner(a.size, a.iterations, a.reuse)
    scorer = Scorer(pairs[0], a.size, runner.st.cfg, dict(runner.st.geometry.strides))
    res = {"ratios": [], "border": [], "small": [], "profiles": {}}
    for pair in pairs:
        print(f"{pair.name}", file=sys.stderr, flush=True)
        bench_pair(runner, scorer, pair, a.modes, a.out, res)
    if not a.no_small:
        bench_small(runner, scorer, pairs[0], a.out, res)
    total = time.perf_counter() - start
    report(a, runner, scorer, res, total)


def report(a, runner: Runner, scorer: Scorer, res: dict, total: float) -> None:
    """The tables on stdout, everything in OUT/results.json."""
    print(f"CPU: {cpu_model()}, torch threads {torch.get_num_threads()}, network {runner.st.dtype}; "
          f"size {a.size}, {a.iterations} evaluations; receptive-field radii by stride {runner.radii}")
    print("\nOwn/other Gram distance of each half (left: own A; right: own B), float32 judge:\n")
    print(ratio_table(res["ratios"], scorer.layers))
    print(f"\nBorder: s(x) = d_A/(d_A+d_B) of {STRIP} px strips every {STEP} px at {', '.join(BORDER_LAYERS)}:\n")
    print(border_table(res["border"]))
    if res["small"]:
        print("\nSmall region (centred rectangle, simple mode):\n")
        print(ratio_table(res["small"], scorer.layers))
    print("\nRun times:\n\n| run | s |\n| --- | ---: |")
    for name, s in runner.times:
        print(f"| {name} | {s:.1f} |")
    print(f"\nTotal {total:.0f} s")
    (a.out / "results.json").write_text(json.dumps({**res, "times": runner.times, "total_s": total,
                                                    "cpu": cpu_model(), "radii": runner.radii}, indent=1))


if __name__ == "__main__":
    main()
