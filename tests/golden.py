"""Golden outputs of the command line, for a refactor that must not change what nst does.

    python tests/golden.py record     # run every scenario, keep what it wrote under tests/golden/KEY/
    python tests/golden.py check      # run them again and compare (tests/test_golden.py does this)

Each scenario is a real ``python -m nst`` process on the example images, float32, seed 0, tiny
sizes. What is compared: the pixels of every image it writes (decoded, so that metadata does not
count twice), the provenance stored in them and in a video, ``--json`` and ``--log`` (without
the fields that measure time or the machine's free memory), the exit code and stderr's last line
for failures. Float results depend on the CPU's kernels and torch's version, so the goldens are
kept per machine: KEY names the CPU, its flags and torch; on another machine the check skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"

# Fields whose values measure time, the machine's free memory or paths of this run: dropped.
VOLATILE = {"seconds", "time", "eta", "elapsed", "planned_peak", "max_memory", "started", "finished_at",
            "duration", "wall", "rate"}

COMMON = ["--precision", "float32", "--seed", "0", "--device", "cpu", "--quiet"]


def scenarios(tmp: Path) -> dict[str, list[str]]:
    """name -> the nst arguments; outputs go under ``tmp``."""
    cat, coffee, astro = (str(EXAMPLES / n) for n in ("cat.jpg", "coffee.jpg", "astronaut.jpg"))
    strokes, mosaic = str(EXAMPLES / "style_strokes.jpg"), str(EXAMPLES / "style_mosaic.jpg")
    return {
        "single": [cat, strokes, "-o", f"{tmp}/single/out.png", "--size", "64", "--iterations", "6",
                   "--json", "--log", f"{tmp}/single/log.json", *COMMON],
        "batch": [cat, coffee, mosaic, "-o", f"{tmp}/batch/", "--size", "48", "--iterations", "4", "--ext", ".png",
                  "--json", *COMMON],
        "tiled": [astro, strokes, "-o", f"{tmp}/tiled/out.png", "--size", "96", "--iterations", "3",
                  "--tile", "48", "--json", "--log", f"{tmp}/tiled/log.json", *COMMON],
        "sequence": [f"{tmp}/frames", mosaic, "-o", f"{tmp}/sequence/", "--sequence", "--size", "48",
                     "--iterations", "4", "--warm-iterations", "3", "--json", *COMMON],
        "missing_content": [f"{tmp}/nope.jpg", strokes, "-o", f"{tmp}/x.png", *COMMON],
        "bad_option": [cat, strokes, "-o", f"{tmp}/x.png", "--style-layers", "conv9_9", *COMMON],
        "bad_weight": [cat, f"{strokes}:abc", "-o", f"{tmp}/x.png", *COMMON],
        "output_in_a_file": [cat, strokes, "-o", f"{tmp}/afile/out.png", *COMMON],
    }


def _prepare(tmp: Path) -> None:
    """The inputs that scenarios make: three frames of a pan over the cat, and a file in the way."""
    from PIL import Image
    (tmp / "frames").mkdir(parents=True, exist_ok=True)
    cat = Image.open(EXAMPLES / "cat.jpg").convert("RGB")
    for t in range(3):
        cat.crop((20 + 6 * t, 30 + 2 * t, 260 + 6 * t, 190 + 2 * t)).save(tmp / "frames" / f"f{t:03d}.png")
    (tmp / "afile").write_text("not a folder")


def machine_key() -> str:
    import torch
    flags = model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = line
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    digest = hashlib.sha256(f"{model}|{flags}|{platform.machine()}|{torch.__version__}|{torch.get_num_threads()}"
                            .encode()).hexdigest()[:12]
    return f"{platform.machine()}-{digest}"


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return value.replace(str(_clean.tmp), "TMP").replace(str(ROOT), "ROOT")
    return value


def _json_lines(text: str) -> list:
    return [_clean(json.loads(line)) for line in text.splitlines() if line.strip()]


def _image_record(path: Path) -> dict:
    from PIL import Image
    with Image.open(path) as im:
        pixels = hashlib.sha256(im.convert("RGB").tobytes()).hexdigest()
        size = im.size
    from nst.jobs import provenance
    try:
        prov = _clean(provenance.read(path))
    except Exception as e:  # noqa: BLE001 - recorded as what it was
        prov = f"{type(e).__name__}"
    return {"pixels": pixels, "size": list(size), "provenance": prov}


def run(name: str, args: list[str], tmp: Path) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "0", "COLUMNS": "100"}
    p = subprocess.run([sys.executable, "-m", "nst", *args], capture_output=True, text=True, env=env,
                       cwd=tmp, timeout=900)
    out: dict = {"rc": p.returncode}
    if p.returncode != 0:
        out["stderr_last"] = _clean(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "")
    out["json"] = _json_lines(p.stdout)
    where = tmp / name
    if where.is_dir():
        for f in sorted(where.rglob("*")):
            rel = str(f.relative_to(where))
            if f.suffix in (".png", ".jpg"):
                out[rel] = _image_record(f)
            elif f.suffix == ".json":
                out[rel] = _clean(json.loads(f.read_text()))
            elif f.is_file():
                out[rel] = f.stat().st_size > 0
    return out


def run_all(tmp: Path, names=None) -> dict[str, dict]:
    tmp = tmp.resolve()
    _clean.tmp = tmp
    _prepare(tmp)
    return {n: run(n, a, tmp) for n, a in scenarios(tmp).items() if names is None or n in names}


def main() -> None:
    import tempfile
    what = sys.argv[1] if len(sys.argv) > 1 else "check"
    key = GOLDEN / machine_key()
    with tempfile.TemporaryDirectory() as d:
        results = run_all(Path(d))
    if what == "record":
        if key.exists():
            shutil.rmtree(key)
        key.mkdir(parents=True)
        for n, r in results.items():
            (key / f"{n}.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(results)} scenarios in {key}")
        return
    bad = [n for n, r in results.items() if json.loads((key / f"{n}.json").read_text()) != r]
    print("differ: " + ", ".join(bad) if bad else f"all {len(results)} scenarios as recorded")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
