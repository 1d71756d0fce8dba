"""--iterations 0 (the initial image as the output), --init adain, --adain-strength and --precision on the CLI."""

import json

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from nst import Config, Stylizer
from nst.cli import main
from nst.core.stylizer import prepare_image
from nst.jobs import provenance
from nst.net.device import resolve_precision
from nst.pixels.images import to_pil, to_tensor


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_iterations_zero_writes_the_adain_picture_with_provenance(tmp_path, content_path, style_path):
    out = tmp_path / "preview.png"
    r = invoke(content_path, style_path, "-o", out, "--size", 40, "--iterations", 0, "--init", "adain",
               "--adain-strength", 0.7, "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "initial image" in r.output and "0 evaluations" in r.output
    st = Stylizer(Config(size=40, iterations=0, init="adain", adain_strength=0.7, device="cpu"))
    expected = to_pil(st.initial_image(to_tensor(prepare_image(content_path, 40), "cpu"),
                                       Image.open(style_path).convert("RGB")))
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), np.asarray(expected))
    rec = provenance.read(out)
    settings = rec["settings"]
    assert settings["iterations"] == 0 and settings["init"] == "adain" and settings["adain_strength"] == 0.7
    # "auto" is recorded as what it meant here: float32, or bfloat16 with float32 on a stall, where
    # "auto" stays (what repeats the run) and the record says the network's dtype
    if resolve_precision("auto", torch.device("cpu")) == torch.bfloat16:
        assert settings["precision"] == "auto"
        assert rec["precision"] == {"network": "bfloat16", "float32_from": None}
    else:
        assert settings["precision"] == "float32" and "precision" not in rec


def test_iterations_zero_in_a_batch_reports_no_J(tmp_path, content_path, style_path):
    out = tmp_path / "out"
    r = invoke(content_path, style_path,
               "-o", f"{out}/", "--size", 32, "--iterations", 0, "--init", "content", "--json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    rec = json.loads([line for line in r.output.splitlines() if line.startswith("{")][0])
    assert rec["status"] == "done" and rec["J"] is None
    written = Image.open(rec["output"]).convert("RGB")
    # init content: the output is the content itself (JPEG 4:4:4 at quality 95: nearly exact)
    content = np.asarray(prepare_image(content_path, 32)).astype(int)
    assert np.abs(np.asarray(written).astype(int) - content).mean() < 3


def test_precision_option_is_recorded_and_checked(tmp_path, content_path, style_path):
    out = tmp_path / "f32.png"
    r = invoke(content_path, style_path, "-o", out, "--size", 32, "--iterations", 1, "--precision", "float32",
               "--device", "cpu", "-q")
    assert r.exit_code == 0, r.output
    assert provenance.read(out)["settings"]["precision"] == "float32"
    r = invoke(content_path, style_path, "-o", out, "--precision", "half")
    assert r.exit_code == 2 and "precision" in r.output
    r = invoke(content_path, style_path, "-o", out, "--adain-strength", 1.5)
    assert r.exit_code == 2 and "adain-strength" in r.output
