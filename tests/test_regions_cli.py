"""Regions from the command line (--region MASK=STYLE): parsing, single images, batches with mask
templates, clips with still and moving masks, provenance, --log, and every bad mask in one line."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_content, make_style
from PIL import Image

from nst.cli import main
from nst.errors import InputError
from nst.jobs import checkpoint, provenance
from nst.jobs.regions import MaskFrames
from nst.jobs.regions import load_mask
from nst.jobs.regionspec import fill, parse_region

FAST = ["--size", "32", "--iterations", "3", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def mask(path, size=(48, 40), left=None, value=255, mode="L"):
    """A mask file: white on its left ``left`` columns (all of it if None), black elsewhere."""
    w, h = size
    a = np.zeros((h, w), np.uint8)
    a[:, : (w if left is None else left)] = value
    Image.fromarray(a).convert(mode).save(path)
    return path


@pytest.fixture
def files(tmp_path):
    content, s1, s2 = tmp_path / "photo.png", tmp_path / "s1.png", tmp_path / "s2.png"
    make_content().save(content)
    make_style().save(s1)
    make_style((40, 40)).rotate(90).save(s2)
    return content, s1, s2


# --- parsing, without the network ---------------------------------------------------------

def test_parse_region_forms():
    r = parse_region("sky.png=wave.jpg")
    assert (str(r.mask), r.style, r.style_masks) == ("sky.png", ((Path("wave.jpg"), 1.0),), ())
    assert parse_region("face.png=none").style is None and parse_region("face.png=NONE").style is None
    blend = parse_region("m.png=a.jpg:2+b.jpg@b_sea.png")
    assert [(str(p), w) for p, w in blend.style] == [("a.jpg", 2.0), ("b.jpg", 1.0)]
    assert [None if m is None else str(m) for m in blend.style_masks] == [None, "b_sea.png"]
    assert parse_region("m.png=b.jpg@own.png:0.5").style[0][1] == 0.5
    assert blend.label() == "m.png=a.jpg:2+b.jpg@b_sea.png"


@pytest.mark.parametrize("spec,says", [("sky.png", "expected MASK=STYLE"), ("=wave.jpg", "expected MASK=STYLE"),
                                       ("sky.png=a.jpg:x", "is not a number"), ("sky.png=a.jpg:-1", "weights"),
                                       ("sky.png=@m.png", "missing before '@'")])
def test_bad_region_specs_say_why(spec, says):
    with pytest.raises(InputError, match=says):
        parse_region(spec)


def test_mask_templates_take_the_job_s_fields():
    r = fill(parse_region("masks/{parent}/{content}.png=s.jpg"), dict(content="a", parent="p", style="s", index=0,
                                                                     dir="."))
    assert str(r.mask) == "masks/p/a.png"
    with pytest.raises(InputError, match="unknown field {ext}"):
        fill(parse_region("m{ext}=s.jpg"), dict(content="a"))


def test_masks_read_grey_levels_or_alpha(tmp_path):
    grey = load_mask(mask(tmp_path / "g.png", left=10, value=128))
    assert grey.shape == (40, 48) and grey[0, 0].item() == pytest.approx(128 / 255) and grey[0, 20].item() == 0
    a = np.zeros((40, 48, 4), np.uint8)
    a[:, :10] = (255, 0, 0, 255)  # a paint program's layer: red strokes on transparency
    Image.fromarray(a, "RGBA").save(tmp_path / "alpha.png")
    m = load_mask(tmp_path / "alpha.png")
    assert m[0, 0].item() == 1.0 and m[0, 30].item() == 0.0


# --- single images --------------------------------------------------------------------------

def test_a_white_mask_gives_exactly_the_run_in_that_style(files, tmp_path):
    """One region over all of the picture: the same J and pixels as a plain run in its style."""
    content, s1, s2 = files
    white = mask(tmp_path / "white.png", size=(96, 80))
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    ra = invoke(content, s1, "-o", a, *FAST, "--region", f"{white}={s2}", "--json")
    rb = invoke(content, s2, "-o", b, *FAST, "--json")
    assert ra.exit_code == 0 and rb.exit_code == 0, ra.output + rb.output
    assert json.loads(ra.stdout)["J"] == json.loads(rb.stdout)["J"]
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_regions_are_recorded_and_logged(files, tmp_path):
    content, s1, s2 = files
    left = mask(tmp_path / "left.png", left=24)
    out, log = tmp_path / "out.png", tmp_path / "log.json"
    r = invoke(content, s1, "-o", out, *FAST, "--region", f"{left}={s2}", "--log", log)
    assert r.exit_code == 0, r.output
    rec = provenance.read(out)["settings"]["regions"]
    assert rec[0]["mask"] == str(left.resolve()) and len(rec[0]["mask_sha256"]) == 64
    assert rec[0]["style"] == [[str(s2.resolve()), 1.0]]
    last = json.loads(log.read_text())["evaluations"][-1]
    assert set(last["regions"]) == {"rest", "left"} and all(v > 0 for v in last["regions"].values())
    assert "left/conv1_1" in last["style_layers"]


def test_a_changed_mask_does_not_resume(files, tmp_path):
    content, s1, s2 = files
    m = mask(tmp_path / "m.png", left=24)
    spec = [parse_region(f"{m}=none")]
    from nst.core.config import Config
    from nst.jobs.regions import identity
    before = checkpoint.settings(Config(), content, [(s1, 1.0)], identity(spec))
    mask(m, left=30)
    after = checkpoint.settings(Config(), content, [(s1, 1.0)], identity(spec))
    assert checkpoint._differences(before, after) == ["the regions changed"]


@pytest.mark.parametrize("make,says", [
    # the files' sizes (the photo is 48x40), not the working size (32x27 at --size 32)
    (lambda p: mask(p, size=(40, 40)), "is 40x40 and the content {content} 48x40: a mask needs the content's "
                                       "aspect ratio"),
    (lambda p: p.write_bytes(b"not an image"), "not a readable image"),
    (lambda p: None, "no such file"),
])
def test_bad_masks_fail_in_one_line(files, tmp_path, make, says):
    content, s1, s2 = files
    m = tmp_path / "m.png"
    make(m)
    r = invoke(content, s1, "-o", tmp_path / "out.png", *FAST, "--region", f"{m}={s2}")
    assert r.exit_code == 2, r.output
    assert says.format(content=content) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("style,says", [
    ("none", "none: no such file; 'none' (keep the photo) is for a region: give a STYLE for the picture and "
             "--region MASK=none"),
    ("{s2}@{m}", "{s2}@{m}: no such file; STYLE@MASK (a style from the white part of its own mask) is for a "
                 "region: give a STYLE for the picture and --region MASK={s2}@{m}"),
    ("{m}=none", "{m}=none: no such file; MASK=STYLE is for a region: give a STYLE for the picture and "
                 "--region {m}=none"),
    ("{s1}:2+none", "none: no such file; 'none' (keep the photo) is for a region"),
])
def test_a_region_s_writing_as_the_style_says_where_it_belongs(files, tmp_path, style, says):
    content, s1, s2 = files
    m = mask(tmp_path / "m.png", left=20)
    names = dict(s1=s1, s2=s2, m=m)
    r = invoke(content, style.format(**names), "-o", tmp_path / "out.png", *FAST)
    assert r.exit_code == 2, r.output
    assert says.format(**names) in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = invoke(content, tmp_path / "missing.png", "-o", tmp_path / "out.png", *FAST)  # a plain missing file: as before
    assert r.exit_code == 2 and r.stderr.strip() == f"Error: {tmp_path / 'missing.png'}: no such file"


def test_the_python_api_says_where_a_region_s_style_belongs():
    from nst.jobs.regionspec import check_whole_style
    with pytest.raises(InputError) as e:
        check_whole_style("none")
    assert "give a STYLE for the picture and regions=[parse_region('MASK=none')]" in str(e.value)
    assert "--" not in str(e.value)


def test_a_mask_in_colour_is_read_by_its_brightest_channel(tmp_path):
    """Paint of a pure colour is the region, as white is (its grey level would make red 30 %),
    and the mask is said to be in colour; a grey mask, even as RGB or JPEG, is read as before."""
    a = np.zeros((40, 48, 3), np.uint8)
    a[:, :10] = (255, 0, 0)
    a[:, 10:20] = (0, 0, 128)
    Image.fromarray(a).save(tmp_path / "red.png")
    notes = []
    m = load_mask(tmp_path / "red.png", notes.append)
    assert m[0, 0].item() == 1.0 and m[0, 15].item() == pytest.approx(128 / 255) and m[0, 30].item() == 0.0
    assert notes == [f"mask {tmp_path / 'red.png'} is in colour, not grey: read by its brightest channel (pure "
                     "red, green or blue is the region, as white is)"]
    grey = np.zeros((40, 48, 3), np.uint8)
    grey[:, :24] = 128
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(grey).save(tmp_path / "grey.jpg", quality=75)
    for name in ("grey.png", "grey.jpg"):
        got = load_mask(tmp_path / name, notes.append)
        with Image.open(tmp_path / name) as im:
            assert np.array_equal(got.numpy(), np.asarray(im.convert("L"), np.float32) / 255.0)
    assert len(notes) == 1


def test_a_red_mask_is_the_region_as_a_white_one_is(files, tmp_path):
    """--region red.png=none, red painted on black: the same output as the white mask, and a warning."""
    content, s1, s2 = files
    a = np.zeros((40, 48, 3), np.uint8)
    a[:, :24] = (255, 0, 0)
    Image.fromarray(a).save(tmp_path / "red.png")
    white = mask(tmp_path / "white.png", left=24)
    outs = []
    for m in (tmp_path / "red.png", white):
        out = tmp_path / f"{m.stem}_out.png"
        r = invoke(content, s1, "-o", out, *FAST, "--region", f"{m}=none")
        assert r.exit_code == 0, r.output
        outs.append(np.asarray(Image.open(out)))
        said = f"nst: mask {m} is in colour, not grey: read by its brightest channel" in r.stderr
        assert said == (m.stem == "red"), r.stderr
    assert np.array_equal(outs[0], outs[1])


def test_coloured_mask_frames_are_said_once(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for t in range(3):
        a = np.zeros((40, 48, 3), np.uint8)
        a[:, : 10 * (t + 1)] = (0, 255, 0)
        Image.fromarray(a).save(folder / f"m{t}.png")
    notes = []
    frames = MaskFrames(folder, 3, (48, 40), note=notes.append)
    assert [int(frames.mask(t).sum().item()) for t in range(3)] == [400, 800, 1200]
    assert notes == [f"mask {folder / 'm0.png'} is in colour, not grey: read by its brightest channel (pure red, "
                     "green or blue is the region, as white is)"]


def test_an_empty_mask_is_a_warning(files, tmp_path):
    content, s1, s2 = files
    black = mask(tmp_path / "black.png", left=0)
    r = invoke(content, s1, "-o", tmp_path / "out.png", *FAST, "--region", f"{black}={s2}")
    assert r.exit_code == 0 and (tmp_path / "out.png").exists()
    assert f"nst: mask {black} is empty (black): its region is left out" in r.stderr


def test_a_style_s_own_region(files, tmp_path):
    """s2@half: the style's Grams from the white half of s2 only (a different target, so a different J)."""
    content, s1, s2 = files
    left = mask(tmp_path / "left.png", left=24)
    half = mask(tmp_path / "half.png", size=(40, 40), left=20)
    outs = []
    for style in (f"{s2}", f"{s2}@{half}"):
        out = tmp_path / f"out{len(outs)}.png"
        r = invoke(content, s1, "-o", out, *FAST, "--region", f"{left}={style}", "--json")
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.stdout)["J"])
    assert outs[0] != outs[1]
    wrong = mask(tmp_path / "wrong.png", size=(40, 20))
    r = invoke(content, s1, "-o", tmp_path / "x.png", *FAST, "--region", f"{left}={s2}@{wrong}")
    assert r.exit_code == 2 and f"mask {wrong} is 40x20 and the style {s2} 40x40" in r.stderr


# --- batches and clips -------------------------------------------------------------------

def test_a_batch_with_a_mask_per_content_goes_on_past_a_missing_one(tmp_path):
    photos, masks, out = tmp_path / "photos", tmp_path / "masks", tmp_path / "out"
    photos.mkdir(), masks.mkdir()
    make_content().save(photos / "a.png")
    make_content().save(photos / "b.png")
    make_style().save(tmp_path / "s.png")
    mask(masks / "a.png", left=20)  # b has none
    r = invoke(photos, tmp_path / "s.png", "-o", out, *FAST, "--region", f"{masks}/{{content}}.png=none", "--json")
    assert r.exit_code == 1, r.output
    lines = {j["content"].rsplit("/", 1)[-1]: j for j in map(json.loads, r.stdout.splitlines())}
    assert lines["a.png"]["status"] == "done" and lines["b.png"]["status"] == "failed"
    assert lines["b.png"]["error"] == f"mask {masks}/b.png: no such file"
    assert provenance.read(out / "a_s.jpg")["settings"]["regions"][0]["mask"] == str((masks / "a.png").resolve())


def test_an_output_never_overwrites_a_mask(files, tmp_path):
    content, s1, s2 = files
    m = mask(tmp_path / "m.png", left=20)
    r = invoke(content, s1, "-o", m, *FAST, "--region", f"{m}=none")
    assert r.exit_code == 2 and "refusing to overwrite an input" in r.stderr


def test_mask_frames_follow_the_clip(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for t in range(3):
        mask(folder / f"m{t}.png", left=10 * (t + 1))
    frames = MaskFrames(folder, 3, (48, 40))
    assert frames.moving and [int(frames.mask(t).sum().item()) for t in range(3)] == [400, 800, 1200]
    with pytest.raises(InputError, match="has 3 frames and the clip 4"):
        MaskFrames(folder, 4, (48, 40))
    still = MaskFrames(folder / "m0.png", 4, (96, 80))
    assert not still.moving and still.mask(3) is still.mask(0)
    with pytest.raises(InputError, match=r"mask .*m0.png is 48x40 and the content clip.mp4 40x40: a mask needs "
                                         r"the content's aspect ratio"):
        MaskFrames(folder / "m0.png", 4, (40, 40), name="clip.mp4")


def test_a_sequence_with_moving_regions(tmp_path):
    """A 'none' region that grows frame by frame: its pixels are the photo's (not the previous
    frame's style carried along the flow), in every frame."""
    frames, masks, out = tmp_path / "frames", tmp_path / "masks", tmp_path / "out"
    frames.mkdir(), masks.mkdir()
    for t in range(3):
        make_content().save(frames / f"f{t}.png")
        mask(masks / f"m{t}.png", left=16 * (t + 1))
    make_style().save(tmp_path / "s.png")
    r = invoke(frames, tmp_path / "s.png", "-o", out, "--sequence", "--size", "48", "--iterations", "20",
               "--warm-iterations", "10", "--device", "cpu", "--region", f"{masks}=none", "-q")
    assert r.exit_code == 0, r.output
    photo = np.asarray(make_content(), np.float32)
    styled_only = np.asarray(Image.open(out / "f0.png"), np.float32)
    for t in range(3):
        got = np.asarray(Image.open(out / f"f{t}.png"), np.float32)
        kept = 16 * (t + 1) - 6  # away from the soft border
        inside = np.abs(got[:, :kept] - photo[:, :kept]).mean()
        outside = np.abs(got[:, kept + 12:] - photo[:, kept + 12:]).mean() if kept + 12 < 48 else None
        assert inside < 25, (t, inside)
        if outside is not None:
            assert outside > inside, (t, inside, outside)
    assert np.abs(styled_only[:, 30:] - photo[:, 30:]).mean() > 25
    masks_4 = tmp_path / "masks4"
    masks_4.mkdir()
    for t in range(4):
        mask(masks_4 / f"m{t}.png")
    r = invoke(frames, tmp_path / "s.png", "-o", tmp_path / "o2", "--sequence", *FAST, "--region", f"{masks_4}=none")
    assert r.exit_code == 2 and r.stderr.strip().splitlines()[-1].endswith(
        f"mask {masks_4} has 4 frames and the clip 3: a moving mask needs one frame per frame of the clip")


def test_regions_with_tiles_and_colour_preservation(files, tmp_path):
    """Tiled runs give the untiled J (exact tiling carries over); luminance-only G runs with regions."""
    content, s1, s2 = files
    left = mask(tmp_path / "left.png", left=20)
    common = [content, s1, *FAST, "--size", "64", "--precision", "float32", "--region", f"{left}={s2}", "--json"]
    Js = []
    for extra in (["--tile", "off"], ["--tile", "16"], ["--preserve-color", "luminance"]):
        out = tmp_path / f"out{len(Js)}.png"
        r = invoke(*common, "-o", out, *extra)
        assert r.exit_code == 0, r.output
        Js.append(json.loads(r.stdout)["J"])
        assert out.exists()
    assert provenance.read(tmp_path / "out1.png")["scales"][0]["tiles"] > 1
    assert Js[1] == pytest.approx(Js[0], rel=1e-3)
    r = invoke(*common, "-o", tmp_path / "pyramid.png", "--size", "96", "--scales", "2", "--iterations", "4")
    assert r.exit_code == 0, r.output
    assert [s["size"][0] for s in provenance.read(tmp_path / "pyramid.png")["scales"]] == [68, 96]


def test_names_with_separators_that_exist_are_not_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a=b.png", "x+y.jpg", "wave@2x.jpg"):
        (tmp_path / name).write_bytes(b"")
    r = parse_region("a=b.png=x+y.jpg")
    assert str(r.mask) == "a=b.png" and [str(p) for p, _ in r.style] == ["x+y.jpg"]
    r = parse_region("m.png=wave@2x.jpg@sea.png:2")
    assert [(str(p), w) for p, w in r.style] == [("wave@2x.jpg", 2.0)] and str(r.style_masks[0]) == "sea.png"
    assert [str(p) for p, _ in parse_region("m.png=dir@v1/wave.jpg@sea.png").style] == ["dir@v1/wave.jpg"]
    with pytest.raises(InputError, match="a mask is missing after '@'"):
        parse_region("m.png=wave.jpg@")
    with pytest.raises(InputError, match="an empty style in the blend"):
        parse_region("m.png=a.jpg+")


def test_16_bit_masks_keep_their_grey_levels(tmp_path):
    a = np.zeros((10, 12), np.uint16)
    a[:, :6] = 30000
    Image.fromarray(a).save(tmp_path / "m16.png")
    m = load_mask(tmp_path / "m16.png")
    assert m[0, 0].item() == pytest.approx(30000 / 65535, rel=1e-4) and m[0, 9].item() == 0.0


def test_a_bad_network_fails_the_run_not_each_job_with_regions(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    make_content().save(photos / "a.png")
    make_content().save(photos / "b.png")
    make_style().save(tmp_path / "s.png")
    (tmp_path / "bad.pth").write_bytes(b"not weights")
    m = mask(tmp_path / "m.png", left=20)
    r = invoke(photos, tmp_path / "s.png", "-o", tmp_path / "out", *FAST, "--weights", tmp_path / "bad.pth",
               "--region", f"{m}={tmp_path / 's.png'}")
    assert r.exit_code == 2 and "failed" not in r.stderr, r.stderr
