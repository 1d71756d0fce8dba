"""Video files in and out with PyAV (FFmpeg bundled): decode frames, encode them at the source's
frame rate, and copy the audio stream unchanged.

PyAV is imported inside the functions, so ``import nst`` and the image path work without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from PIL import Image

from ..errors import InputError, NSTError
from .images import atomic_file

# Extensions taken as videos without opening the file; others are probed (see is_video).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                              ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".y4m"})
DEFAULT_CODEC = "libx264"
DEFAULT_PIX_FMT = "yuv420p"      # what every player decodes; needs even width and height
DEFAULT_CRF = 18                 # x264's "visually lossless" end; 23 is its own default
# Codecs whose quality is set by the private option "crf" (others: --encoder-option).
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"})


@dataclass(frozen=True)
class ClipInfo:
    """What a video file holds: its first video stream's frame count, rate and size, and whether it has audio."""

    path: Path
    frames: int                  # decoded frames (counted by decoding when the container does not say)
    rate: Fraction               # frames per second, exact (e.g. 30000/1001)
    size: tuple[int, int]        # (width, height) of the decoded frames
    audio: bool                  # has an audio stream (copied to the output)


@dataclass(frozen=True)
class Encoder:
    """How frames are encoded: codec, pixel format, quality and any other FFmpeg codec options."""

    codec: str | None = None                    # None: DEFAULT_CODEC, or VP9 for .webm (see codec_for)
    pix_fmt: str = DEFAULT_PIX_FMT
    crf: int | None = DEFAULT_CRF               # applied to CRF_CODECS only
    options: Mapping[str, str] = field(default_factory=dict)  # e.g. {"preset": "slow", "tune": "film"}

    def codec_for(self, path: str | Path) -> str:
        """The codec for an output file: the one asked for, else H.264 (VP9 in .webm, which takes no H.264)."""
        if self.codec is not None:
            return self.codec
        return "libvpx-vp9" if Path(path).suffix.lower() == ".webm" else DEFAULT_CODEC

    def codec_options(self, codec: str | None = None) -> dict[str, str]:
        codec = codec or self.codec or DEFAULT_CODEC
        opts = {}
        if self.crf is not None and codec in CRF_CODECS:
            opts["crf"] = str(self.crf)
            if codec == "libvpx-vp9":
                opts["b"] = "0"  # constant quality mode
        opts.update({str(k): str(v) for k, v in self.options.items()})
        return opts

    def check(self, path: str | Path) -> None:
        """InputError now, not after the frames are made, if this FFmpeg has no such encoder."""
        av = _av()
        codec = self.codec_for(path)
        try:
            if not av.Codec(codec, "w").type == "video":
                raise InputError(f"codec {codec!r}: not a video encoder")
        except (av.FFmpegError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"codec {codec!r}: not an encoder this FFmpeg has") from None
        self._try_options(av, codec)

    def _try_options(self, av, codec: str) -> None:
        """InputError if the encoder refuses its options (``preset=bogus``): it is opened with them
        on a tiny picture, as it will be for the frames. (FFmpeg ignores options it does not know.)"""
        cc = av.CodecContext.create(codec, "w")
        cc.width, cc.height, cc.pix_fmt = 64, 64, self.pix_fmt
        cc.time_base = Fraction(1, 25)
        cc.options = self.codec_options(codec)
        before = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)  # FFmpeg's words, caught for the one line below
        try:
            with av.logging.Capture() as logs:
                cc.open()
        except (av.FFmpegError, ValueError) as e:
            said = "; ".join(m.strip() for _, _, m in logs)
            given = " ".join(f"{k}={v}" for k, v in (self.options or self.codec_options(codec)).items())
            raise InputError(f"encoder {codec} refuses the options {given} ({said or _reason(e)})") from None
        finally:
            av.logging.set_level(before)


def _av():
    """PyAV, or NSTError saying how to install it."""
    try:
        import av  # lazy: PyAV is only needed for video files (import nst and images work without it)
    except ImportError:
        raise NSTError("videos need PyAV: pip install av") from None
    return av


def parse_encoder_option(spec: str) -> tuple[str, str]:
    """'preset=slow' -> ('preset', 'slow'); InputError without '='."""
    key, sep, value = spec.partition("=")
    if not sep or not key.strip():
        raise InputError(f"encoder option {spec!r}: expected KEY=VALUE, e.g. preset=slow")
    return key.strip(), value.strip()


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video: a known video extension, or (for a file whose extension
    Pillow does not know) a container FFmpeg opens with a video stream. Directories are not."""
    path = Path(path)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if not path.is_file() or path.suffix.lower() in Image.registered_extensions():
        return False
    try:
        av = _av()
        with av.open(str(path)) as c:
            return bool(c.streams.video)
    except Exception:  # noqa: BLE001 - not something FFmpeg opens: not a video
        return False


def _open(path: Path):
    av = _av()
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a video") from None
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a video FFmpeg can read ({_reason(e)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def _reason(e: BaseException) -> str:
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).strip().splitlines()[0]


def probe(path: str | Path) -> ClipInfo:
    """The ClipInfo of a video file; InputError naming it if FFmpeg cannot read it or it has no
    video stream or no decodable frame. The frame count is the container's, or counted by decoding."""
    av = _av()
    path = Path(path)
    with _open(path) as c:
        stream = c.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = stream.frames
        audio = bool(c.streams.audio)
        size, decoded = None, 0
        try:
            for frame in c.decode(stream):  # the first frame for its size; all of them if the count is unknown
                decoded += 1
                if size is None:
                    size = _upright(frame).size
                if frames:
                    break
        except (av.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"{path}: broken video ({_reason(e)})") from None
        frames = frames or decoded
    if not frames or size is None:
        raise InputError(f"{path}: no video frames could be decoded")
    if not rate:
        raise InputError(f"{path}: the video stream has no frame rate")
    return ClipInfo(path, frames, Fraction(rate), size, audio)


def read_frames(path: str | Path) -> Iterator[Image.Image]:
    """The frames of a video's first video stream, in order, as RGB PIL images (decoded lazily),
    upright: turned as the stream's display matrix says (as players show a phone's video).

    A decoding error midway raises InputError naming the file and the frame.
    """
    av = _av()
    path = Path(path)
    with _open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        i = 0
        try:
            for frame in c.decode(stream):
                yield _upright(frame)
                i += 1
        except (av.FFmpegError, OSError, ValueError) as e:
            raise InputError(f"{path}: broken video at frame {i} ({_reason(e)})") from None


def _upright(frame) -> Image.Image:
    """A decoded frame as an RGB PIL image, turned as its display matrix says (phone videos)."""
    img = frame.to_image()
    angle = round(getattr(frame, "rotation", 0) or 0)
    return img.rotate(angle, expand=True) if angle % 360 else img


def even_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """(width, height) of ``size`` scaled to ``long_edge`` on its long side, then made even (yuv420p
    stores colour at half resolution, so H.264 in it needs even dimensions): the long side rounded
    down (never above ``long_edge``), the short side to the nearest even number."""
    w, h = size
    scale = long_edge / max(w, h)
    long_even = max(2, long_edge // 2 * 2)
    short = max(2, 2 * round(min(w, h) * scale / 2))
    return (long_even, short) if w >= h else (short, long_even)


# The container metadata key that holds nst's provenance (nst.jobs.provenance): kept by .mp4, .mov, .mkv, .webm.
DESCRIPTION_KEY = "comment"


def read_description(path: str | Path) -> str | None:
    """The description write_video stored in a video's container metadata, or None; InputError
    if FFmpeg cannot read the file."""
    with _open(Path(path)) as c:
        return next((v for k, v in c.metadata.items() if k.lower() == DESCRIPTION_KEY), None)


def write_video(frames: Iterable[Image.Image], path: str | Path, rate: Fraction, *, encoder: Encoder = Encoder(),
                audio_from: str | Path | None = None, description: str | None = None) -> int:
    """Encode ``frames`` (RGB PIL images, all one size) into ``path`` at ``rate`` frames per second;
    return the number of frames written.

    The container comes from the extension (.mp4, .mkv, .mov, ...). The audio stream of
    ``audio_from`` (a video file), if it has one, is copied packet for packet, unchanged.
    ``description`` (nst's provenance, JSON) is stored in the container's metadata (read_description).
    The file is written atomically: a temporary file beside it, renamed when complete.
    """
    av = _av()
    path = Path(path)
    with atomic_file(path, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}") as (fd, tmp):  # PyAV writes by name
        os.close(fd)
        return _encode(av, tmp, path, frames, rate, encoder, audio_from, description)


def _encode(av, tmp: str, path: Path, frames: Iterable[Image.Image], rate: Fraction, encoder: Encoder,
            audio_from: str | Path | None, description: str | None) -> int:
    """write_video into the file ``tmp`` (errors name ``path``): the container, its streams, and the
    frames with the audio; the number of frames written."""
    try:
        out = av.open(tmp, "w")
    except (av.FFmpegError, ValueError) as e:
        raise InputError(f"{path}: no video container for the extension {path.suffix!r} ({_reason(e)})") from None
    source = None
    with out:
        if description is not None:
            out.metadata[DESCRIPTION_KEY] = description
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            raise InputError(f"{path}: no frames to write")
        vs = _video_stream(av, out, path, first, rate, encoder)
        audio_in = audio_out = None
        if audio_from is not None:
            source = _open(Path(audio_from))
            if source.streams.audio:
                audio_in = source.streams.audio[0]
                audio_out = out.add_stream_from_template(audio_in)
        try:
            try:
                out.start_encoding()
            except (av.FFmpegError, ValueError) as e:
                if audio_in is None:
                    raise
                raise InputError(f"{path}: the audio ({audio_in.codec_context.name}) of {audio_from} cannot "
                                 f"be copied into {path.suffix} ({_reason(e)}); write .mkv instead") from None
            packets = _audio_packets(source, audio_in) if audio_in is not None else iter(())
            return _mux(av, out, vs, _chain(first, frames), rate, path, packets, audio_out)
        except NSTError:
            raise
        except (av.FFmpegError, ValueError) as e:
            raise NSTError(f"{path}: encoding failed ({_reason(e)})") from None
        finally:
            if source is not None:
                source.close()


def _video_stream(av, out, path: Path, first: Image.Image, rate: Fraction, encoder: Encoder):
    """The video stream of ``out``, for frames the size of ``first``, with the encoder's settings."""
    codec = encoder.codec_for(path)
    try:
        vs = out.add_stream(codec, rate=Fraction(rate))
    except (av.FFmpegError, ValueError) as e:
        raise InputError(f"codec {codec!r}: not an encoder this FFmpeg has ({_reason(e)})") from None
    vs.width, vs.height = first.size
    vs.pix_fmt = encoder.pix_fmt
    vs.options = encoder.codec_options(codec)
    if encoder.pix_fmt in ("yuv420p", "nv12") and (first.width % 2 or first.height % 2):
        raise InputError(f"{path}: {encoder.pix_fmt} needs even dimensions, the frames are "
                         f"{first.width}x{first.height}")
    return vs


def _mux(av, out, vs, images: Iterator[Image.Image], rate: Fraction, path: Path,
         packets: Iterator[tuple[Fraction, object]], audio_out) -> int:
    """Encode the images into ``vs`` and copy the audio ``packets`` into ``audio_out``, interleaved
    by time; the number of frames written."""
    time_base = 1 / Fraction(rate)
    pending = next(packets, None)
    size = None
    count = 0
    for count, img in enumerate(images):
        size = size or img.size
        if img.size != size:
            raise InputError(f"{path}: frame {count} is {img.size[0]}x{img.size[1]}, "
                             f"the first {size[0]}x{size[1]}")
        frame = av.VideoFrame.from_image(img.convert("RGB"))
        frame.pts, frame.time_base = count, time_base
        while pending is not None and pending[0] <= count * time_base:  # interleave by time
            pending[1].stream = audio_out
            out.mux(pending[1])
            pending = next(packets, None)
        out.mux(vs.encode(frame))
    count += 1
    out.mux(vs.encode())
    while pending is not None:
        pending[1].stream = audio_out
        out.mux(pending[1])
        pending = next(packets, None)
    return count


def _chain(first, rest):
    yield first
    yield from rest


def _audio_packets(container, stream) -> Iterator[tuple[Fraction, object]]:
    """(presentation time in seconds, packet) of the stream's packets, in file order, flush packets dropped."""
    for packet in container.demux(stream):
        if packet.dts is None:
            continue
        pts = packet.pts if packet.pts is not None else packet.dts
        yield pts * packet.time_base, packet

