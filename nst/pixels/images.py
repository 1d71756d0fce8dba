"""Image loading, resizing and atomic saving for style transfer (Gatys et al., 2016).

Colour profiles: a picture is read through its embedded ICC profile into sRGB (``to_srgb``: Adobe
RGB, Display P3, ProPhoto, a grey or a CMYK profile), so that the numbers nst works on are the
colours a colour-managed viewer shows; a picture without a profile is taken as sRGB, untouched
(bit for bit). What nst writes is tagged sRGB (``srgb_profile``). Masks are data, not colour: they
are not read here (nst.jobs.regions.load_mask) and no profile applies to them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import InputError, NSTError

if TYPE_CHECKING:  # torch is imported where tensors are made: `nst info` and `nst plot` start without it
    import torch
    from torch import Tensor

# Output formats by file extension, and the options Pillow writes them with.
# JPEG without chroma subsampling (4:4:4, Pillow's default is 4:2:0): halving the colour
# resolution blurs the fine colour texture the style costs measure, and more than doubled J_style
# of a saved result (benchmarks/README.md, Levers); the file is about 1.7x larger.
FORMATS: dict[str, tuple[str, dict]] = {
    ".jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".png": ("PNG", {}),
    ".webp": ("WEBP", {"quality": 95}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
}
# Where save_image stores a description: a PNG iTXt chunk, or this EXIF tag for the other formats.
PNG_DESCRIPTION = "Description"
EXIF_IMAGE_DESCRIPTION = 0x010E


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: alpha is composited over white, 16-bit and
    float images are scaled (not clipped) to 8 bits, palette and CMYK are converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        if img.mode == "F":
            top = 1.0 if a.max() <= 1.0 else 255.0
        a = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``Image.open``, loaded, with a missing, unreadable or broken file raised as InputError naming it."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            yield img
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an image") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: broken image ({e})") from None


def load_image(path: str | Path | Image.Image, note: Callable[[str], None] | None = None) -> Image.Image:
    """Open an image file (or take a PIL image), apply its EXIF orientation, return sRGB as 8-bit
    RGB: through its colour profile if it has one (``to_srgb``; ``note`` hears, in one line, of a
    profile that cannot be used, and the picture is then read as sRGB)."""
    if isinstance(path, Image.Image):
        return to_srgb(ImageOps.exif_transpose(path), name="the image", note=note)
    with open_image(path) as img:
        return to_srgb(ImageOps.exif_transpose(img), name=str(path), note=note)


@functools.cache
def srgb_profile() -> bytes:
    """The sRGB ICC profile nst tags its outputs with (Little CMS's built-in sRGB), made once."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _is_srgb_profile(icc: bytes) -> bool:
    """``icc`` is nst's own sRGB profile (as written by any run: the header's creation date, bytes
    24-35, differs from run to run). Only a shortcut: sRGB to sRGB through Little CMS is exact too."""
    own = srgb_profile()
    return len(icc) == len(own) and icc[:24] == own[:24] and icc[36:] == own[36:]


# The image modes a profile's colour space applies to: (the mode the image is brought to, its modes).
_SPACES = {"RGB": ("RGB", ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")),
           "GRAY": ("L", ("L", "LA", "La", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")),
           "CMYK": ("CMYK", ("CMYK",))}


def to_srgb(img: Image.Image, name: str = "the image", note: Callable[[str], None] | None = None) -> Image.Image:
    """``img`` as 8-bit RGB in sRGB (see ``to_rgb`` for the modes): converted from its embedded ICC
    profile (``img.info["icc_profile"]``; perceptual intent, Little CMS through Pillow's ImageCms)
    if it has one. An image without a profile is only ``to_rgb``: exactly the same pixels. A
    profile that cannot be read, or is for another colour space than the image's (a grey profile
    in an RGB file), is left out: the numbers are taken as sRGB, as browsers do, and ``note``
    hears so, naming ``name``."""
    icc = img.info.get("icc_profile")
    if not icc or _is_srgb_profile(icc):
        return to_rgb(img)
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = profile.profile.xcolor_space.strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as e:
        return _unprofiled(img, name, f"its colour profile cannot be read ({e})", note)
    if space not in _SPACES or img.mode not in _SPACES[space][1]:
        return _unprofiled(img, name, f"its colour profile is for {space or 'an unknown space'} and the image "
                           f"is {img.mode}", note)
    mode = _SPACES[space][0]
    source = img if img.mode == mode else to_rgb(img).convert(mode)  # alpha over white first; grey stays exact
    try:
        return ImageCms.profileToProfile(source, profile, _srgb(), renderingIntent=ImageCms.Intent.PERCEPTUAL,
                                         outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as e:
        return _unprofiled(img, name, f"its colour profile cannot be applied ({e})", note)


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))


def _unprofiled(img: Image.Image, name: str, why: str, note: Callable[[str], None] | None) -> Image.Image:
    if note is not None:
        note(f"{name}: {why}; its colours are read as sRGB")
    return to_rgb(img)


def long_edge_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """(width, height) of an image of ``size`` (width, height) resized to ``long_edge``, aspect kept."""
    w, h = size
    scale = long_edge / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def resize_long_edge(img: Image.Image, size: int) -> Image.Image:
    """Resize so the long edge is ``size`` pixels, keeping the aspect ratio (bicubic; Lanczos when shrinking)."""
    new = long_edge_size(img.size, size)
    if new == img.size:
        return img
    method = Image.Resampling.LANCZOS if size < max(img.size) else Image.Resampling.BICUBIC
    return img.resize(new, method)


def to_tensor(img: Image.Image, device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> Tensor:
    """RGB PIL image -> (1, 3, H, W) tensor in [0, 1] (float32 unless ``dtype``)."""
    import torch  # lazy: nst info and nst status read images without torch
    dtype = torch.float32 if dtype is None else dtype
    a = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
    return a.permute(2, 0, 1).unsqueeze(0).contiguous().to(device=device, dtype=dtype).div_(255.0)


def to_pil(t: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB PIL image (values clamped)."""
    import torch  # lazy: nst info and nst status read images without torch
    t = t.detach()
    if t.dim() == 4:
        t = t[0]
    # in place after the one copy clamp makes (at 8192² each float32 copy is 0.5 GiB)
    a = t.float().clamp(0, 1).mul_(255).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a, "RGB")


def output_format(path: str | Path) -> str:
    """The Pillow format for an output path, from its extension."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise InputError(f"{path}: unknown output extension {ext or '(none)'!r}; allowed: "
                         + ", ".join(sorted(FORMATS)))
    return FORMATS[ext][0]


def save_image(img: Image.Image, path: str | Path, description: str | None = None) -> Path:
    """Write ``img`` to ``path`` atomically: a temporary file in the same folder, then rename.

    The format comes from the extension (JPEG and WebP at quality 95); the file is tagged sRGB
    (an ICC profile, ``srgb_profile``), which its pixels are. ``description``, if given, is stored
    in the file: a PNG iTXt chunk "Description", or the EXIF ImageDescription of a JPEG, WebP or
    TIFF (ASCII there: encode other text first, e.g. JSON with its escapes).
    """
    path = Path(path)
    fmt = output_format(path)
    options = dict(FORMATS[path.suffix.lower()][1], icc_profile=srgb_profile())
    if description is not None:
        if fmt == "PNG":
            options["pnginfo"] = PngImagePlugin.PngInfo()
            options["pnginfo"].add_itxt(PNG_DESCRIPTION, description)
        else:
            if not description.isascii():
                raise InputError(f"{path}: the {fmt} description must be ASCII")
            exif = Image.Exif()
            exif[EXIF_IMAGE_DESCRIPTION] = description
            options["exif"] = exif
    with atomic_write(path) as f:
        img.save(f, format=fmt, **options)
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` only if the block succeeds.

    An interrupted or failed write leaves no half-written file. OSError becomes NSTError naming ``path``.
    """
    path = Path(path)
    made = False
    try:
        with atomic_file(path, prefix=f".{path.name}.", suffix=".tmp") as (fd, _):
            made = True
            with os.fdopen(fd, "wb") as f:
                yield f
    except OSError as e:
        if not made:  # the temporary file could not be made: raised as it came
            raise
        raise NSTError(f"{path}: cannot write ({e.strerror or e})") from e


@contextlib.contextmanager
def atomic_file(path: str | Path, *, prefix: str, suffix: str) -> Iterator[tuple[int, str]]:
    """A new temporary file beside ``path`` (``prefix``...``suffix``), as its open descriptor and its
    name; renamed to ``path`` with the usual mode (0666 less the umask) only if the block succeeds,
    removed otherwise. The block writes it and closes the descriptor (``atomic_write``; or closes it
    at once and writes by name, as nst.pixels.video does). Errors are raised as they come."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        yield fd, tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_description(path: str | Path) -> str | None:
    """The description save_image stored in an image file, or None if it has none."""
    with open_image(path) as img:
        value = img.info.get(PNG_DESCRIPTION) if img.format == "PNG" else img.getexif().get(EXIF_IMAGE_DESCRIPTION)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.rstrip("\0") if isinstance(value, str) else None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resize_tensor(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(1, C, H, W) -> (1, C, *size) bicubic, antialiased when shrinking, clamped to [0, 1]."""
    import torch  # lazy: nst info and nst status read images without torch
    if tuple(x.shape[-2:]) == size:
        return x
    return torch.nn.functional.interpolate(x, size=size, mode="bicubic", align_corners=False,
                                           antialias=True).clamp_(0, 1)
