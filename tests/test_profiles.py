"""Colour profiles: pictures are read through their ICC profiles into sRGB (content, style, --init,
the frames of a --sequence folder), a picture without one bit for bit as before, CMYK through its
profile; outputs are tagged sRGB in every format, with their provenance still there; masks are
data, their profiles left alone.

The profiles are built here (tests/icc.py), so that no profile file is needed; the tests with
Debian's colord-data profiles (installed by .ci/run) skip where it is not installed."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_content, make_style
from icc import cmyk_profile, grey_profile, rgb_profile
from PIL import Image, ImageCms

from nst.cli import main
from nst.jobs import provenance
from nst.jobs.regions import load_mask
from nst.pixels.images import load_image, read_description, save_image, srgb_profile, to_rgb

COLORD = Path("/usr/share/color/icc/colord")
needs_colord = pytest.mark.skipif(not (COLORD / "SwappedRedAndGreen.icc").is_file(),
                                  reason=f"no {COLORD}/*.icc: Debian's colord-data is not installed "
                                         "(.ci/run installs it)")
FORMATS = [("png", {}), ("jpg", {"quality": 100, "subsampling": 0}), ("tif", {}), ("webp", {"lossless": True})]


def tagged(path, colour, profile, size=(12, 10), **options):
    """A file of one ``colour`` tagged with ICC ``profile`` (bytes)."""
    Image.new("RGB", size, colour).save(path, icc_profile=profile, **options)
    return path


def pixel(img):
    return img.getpixel((3, 3))


def near(a, b, tolerance=2):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def srgb_description(path):
    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
    return icc and ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()


@pytest.mark.parametrize("ext,options", FORMATS)
def test_a_profile_is_applied_in_every_format(tmp_path, ext, options):
    """Stored red in a profile whose red is sRGB's green: green, as a colour-managed viewer shows it."""
    p = tagged(tmp_path / f"swapped.{ext}", (255, 0, 0), rgb_profile(), **options)
    assert near(pixel(load_image(p)), (0, 255, 0))
    q = tagged(tmp_path / f"plain.{ext}", (255, 0, 0), rgb_profile("sRGB's own order", "red", "green", "blue"),
               **options)
    assert near(pixel(load_image(q)), (255, 0, 0))


def test_a_picture_without_a_profile_is_read_bit_for_bit_as_before(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (30, 40, 3), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=90)
    assert np.array_equal(np.asarray(load_image(tmp_path / "a.png")), a)
    with Image.open(tmp_path / "a.jpg") as im:
        assert "icc_profile" not in im.info
        assert np.array_equal(np.asarray(load_image(tmp_path / "a.jpg")), np.asarray(to_rgb(im)))
    grey = rng.integers(0, 256, (30, 40), np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert np.array_equal(np.asarray(load_image(tmp_path / "g.png"))[..., 1], grey)


def test_an_srgb_profile_changes_nothing(tmp_path):
    """A picture tagged sRGB (Little CMS's, as another run of nst wrote it, whose header's date
    differs; and one built now) reads exactly as its numbers: every 8-bit colour."""
    v = np.arange(256 ** 3, dtype=np.uint32)
    every = np.stack([v >> 16, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
    other_run = bytearray(srgb_profile())
    other_run[24:36] = bytes(range(12))  # another creation date
    built = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (bytes(other_run), built):
        img = Image.fromarray(every)
        img.info["icc_profile"] = icc
        assert np.array_equal(np.asarray(load_image(img)), every)


def test_a_grey_profile_and_a_cmyk_profile(tmp_path):
    g = tmp_path / "linear.png"
    Image.new("L", (8, 8), 128).save(g, icc_profile=grey_profile(1.0))  # 128 in linear light: sRGB 188
    assert near(pixel(load_image(g)), (188, 188, 188))
    corners = {(c, m, y, k): (100 - 50 * max(c, m, y) - 50 * k, 0.0, 0.0)
               for c in (0, 1) for m in (0, 1) for y in (0, 1) for k in (0, 1)}
    corners[(1, 0, 0, 0)] = (60.3, 98.2, -60.8)  # stored cyan is magenta in this profile
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(p, icc_profile=cmyk_profile(corners), quality=100)
    assert near(pixel(load_image(p)), (255, 0, 255), 4)
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(tmp_path / "bare.jpg", quality=100)
    assert pixel(load_image(tmp_path / "bare.jpg")) == (0, 255, 255)  # no profile: as before


def test_a_profile_that_cannot_be_used_is_said_and_left_out(tmp_path):
    notes = []
    bad = tagged(tmp_path / "bad.png", (255, 0, 0), b"not a profile at all" * 10)
    assert pixel(load_image(bad, notes.append)) == (255, 0, 0)
    wrong = tagged(tmp_path / "wrong.png", (255, 0, 0), grey_profile())
    assert pixel(load_image(wrong, notes.append)) == (255, 0, 0)
    assert notes == [f"{bad}: its colour profile cannot be read (cannot open profile from string); its colours "
                     "are read as sRGB",
                     f"{wrong}: its colour profile is for GRAY and the image is RGB; its colours are read as sRGB"]


@needs_colord
def test_debian_s_profiles(tmp_path):
    swapped = tagged(tmp_path / "swapped.jpg", (255, 0, 0), (COLORD / "SwappedRedAndGreen.icc").read_bytes(),
                     quality=100, subsampling=0)
    assert near(pixel(load_image(swapped)), (0, 255, 0))
    adobe = tagged(tmp_path / "adobe.png", (200, 60, 40), (COLORD / "AdobeRGB1998.icc").read_bytes())
    assert near(pixel(load_image(adobe)), (231, 57, 34))  # Adobe RGB's red is more saturated than sRGB's
    photo = tagged(tmp_path / "prophoto.tif", (0, 128, 0), (COLORD / "ProPhotoRGB.icc").read_bytes())
    assert near(pixel(load_image(photo)), (0, 161, 0))


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_outputs_are_tagged_srgb_and_keep_their_description(tmp_path, ext):
    p = save_image(Image.new("RGB", (9, 7), (10, 200, 30)), tmp_path / f"out{ext}", description='{"nst": 1}')
    assert srgb_description(p) == "sRGB built-in"
    assert read_description(p) == '{"nst": 1}'
    if ext in (".png", ".tif"):
        assert pixel(load_image(p)) == (10, 200, 30)


def test_masks_are_data_their_profile_left_alone(tmp_path):
    Image.new("L", (8, 8), 128).save(tmp_path / "m.png", icc_profile=grey_profile(1.0))
    assert load_mask(tmp_path / "m.png")[0, 0].item() == pytest.approx(128 / 255)


def test_the_command_reads_through_profiles_and_writes_srgb(tmp_path):
    """nst on a content whose profile swaps red and green: the output (the content itself, with
    --init content --iterations 0) is what a viewer shows of the input, and says so (sRGB);
    `nst info` still reads its provenance. A style with a broken profile is said once."""
    a = np.asarray(make_content())
    Image.fromarray(a[..., [1, 0, 2]]).save(tmp_path / "photo.png", icc_profile=rgb_profile())
    Image.fromarray(a).save(tmp_path / "plain.png")
    make_style().save(tmp_path / "s.png", icc_profile=b"broken" * 20)
    outs = []
    for name in ("photo", "plain"):
        out = tmp_path / f"{name}_out.jpg"
        r = CliRunner().invoke(main, [str(tmp_path / f"{name}.png"), str(tmp_path / "s.png"), "-o", str(out),
                                      "--size", "48", "--init", "content", "--iterations", "0", "--device", "cpu"])
        assert r.exit_code == 0, r.output
        assert r.stderr.count(f"nst: {tmp_path / 's.png'}: its colour profile cannot be read") == 1
        assert srgb_description(out) == "sRGB built-in"
        assert provenance.read(out)["settings"]["content"] == str((tmp_path / f"{name}.png").resolve())
        outs.append(np.asarray(Image.open(out)).astype(int))
    assert np.abs(outs[0] - outs[1]).max() <= 3  # the swapped file's colours are the plain file's
    r = CliRunner().invoke(main, ["info", str(tmp_path / "photo_out.jpg")])
    assert r.exit_code == 0 and json.loads(r.stdout)["settings"]["iterations"] == 0, r.output
