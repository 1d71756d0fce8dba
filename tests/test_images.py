"""Loading (EXIF, modes, broken files), resizing and atomic saving."""

import numpy as np
import pytest
from PIL import Image

from nst.errors import InputError
from nst.pixels.images import load_image, read_description, resize_long_edge, save_image, to_pil, to_tensor


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (30, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif.tobytes())
    assert load_image(p).size == (20, 30)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F", "1"])
def test_modes_become_rgb(tmp_path, mode):
    base = Image.new("RGB", (8, 6), (120, 120, 120))
    img = base.convert(mode) if mode not in ("I;16", "I", "F") else None
    if mode == "I;16":
        img = Image.fromarray(np.full((6, 8), 30000, np.uint16))  # 16-bit mid grey
    elif mode == "I":
        img = Image.fromarray(np.full((6, 8), 30000, np.int32))
    elif mode == "F":
        img = Image.fromarray(np.full((6, 8), 0.5, np.float32))
    out = load_image(img)
    assert out.mode == "RGB" and out.size == (8, 6)
    if mode in ("I;16", "I"):
        assert out.getpixel((0, 0)) == (117, 117, 117)  # 30000/65535*255, scaled not clipped
    if mode == "F":
        assert out.getpixel((0, 0)) == (128, 128, 128)


def test_transparent_areas_become_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert load_image(img).getpixel((1, 1)) == (255, 255, 255)


def test_16bit_png_file(tmp_path):
    p = tmp_path / "deep.png"
    Image.fromarray(np.full((6, 8), 65535, np.uint16)).save(p)
    assert load_image(p).getpixel((0, 0)) == (255, 255, 255)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    txt = tmp_path / "notes.jpg"
    txt.write_text("hello")
    with pytest.raises(InputError, match="not an image"):
        load_image(txt)
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    with pytest.raises(InputError, match="cut.jpg"):
        load_image(cut)


def test_resize_long_edge_keeps_aspect():
    assert resize_long_edge(Image.new("RGB", (400, 200)), 100).size == (100, 50)
    assert resize_long_edge(Image.new("RGB", (30, 60)), 120).size == (60, 120)


def test_tensor_round_trip():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8))
    t = to_tensor(img)
    assert t.shape == (1, 3, 5, 7) and t.is_contiguous() and float(t.max()) <= 1
    assert np.array_equal(np.asarray(to_pil(t)), np.asarray(img))


@pytest.mark.parametrize("ext, fmt", [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"), (".tif", "TIFF")])
def test_save_format_from_extension(tmp_path, ext, fmt):
    p = save_image(Image.new("RGB", (9, 7), (10, 200, 30)), tmp_path / f"out{ext}")
    with Image.open(p) as im:
        assert im.format == fmt and im.size == (9, 7)
    assert [f.name for f in tmp_path.iterdir()] == [f"out{ext}"], "no temporary file left behind"


def test_save_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="unknown output extension"):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "out.xyz")
    assert not list(tmp_path.iterdir())


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def boom(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_image(Image.new("RGB", (2, 2)), target)
    assert target.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_description_round_trip(tmp_path, ext):
    text = '{"nst": "0.1.0", "path": "caf\\u00e9.jpg"}'
    p = save_image(Image.new("RGB", (9, 7), (10, 200, 30)), tmp_path / f"out{ext}", description=text)
    assert read_description(p) == text
    plain = save_image(Image.new("RGB", (9, 7)), tmp_path / f"plain{ext}")
    assert read_description(plain) is None


def test_png_description_may_be_unicode(tmp_path):
    p = save_image(Image.new("RGB", (4, 4)), tmp_path / "u.png", description="café ☕")
    assert read_description(p) == "café ☕"
    with pytest.raises(InputError, match="ASCII"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "u.jpg", description="café")
    with pytest.raises(InputError, match="no such file"):
        read_description(tmp_path / "missing.png")


def test_jpeg_keeps_full_colour_resolution(tmp_path):
    """Outputs are JPEG 4:4:4: one-pixel colour detail survives (4:2:0 would average it away)."""
    a = np.zeros((16, 16, 3), np.uint8)
    a[:, ::2] = (220, 30, 30)
    a[:, 1::2] = (30, 30, 220)
    save_image(Image.fromarray(a), tmp_path / "stripes.jpg")
    b = np.asarray(load_image(tmp_path / "stripes.jpg")).astype(int)
    assert np.abs(b - a).mean() < 12
