"""Video files (PyAV) and optical flow (OpenCV DIS): round trips, audio copy, flow of a known motion."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import audio_packets, pan_frames, texture, write_clip

from nst.errors import InputError
from nst.pixels import flow, video
from nst.jobs.sequence import list_frames, natural_key
from nst.pixels.images import to_tensor

# --- natural order ------------------------------------------------------------------------

def test_natural_key_puts_f2_before_f10():
    names = ["f10.png", "f2.png", "F1.png", "f02b.png", "g.png", "f100.png", "f9.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f2.png", "f02b.png", "f9.png", "f10.png", "f100.png",
                                              "g.png"]


def test_list_frames_natural_order_images_only(tmp_path):
    for i in (1, 2, 10, 11, 3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("x")
    Image.new("RGB", (8, 8)).save(tmp_path / ".hidden.png")
    assert [p.name for p in list_frames(tmp_path)] == ["frame1.png", "frame2.png", "frame3.png", "frame10.png",
                                                        "frame11.png"]
    with pytest.raises(InputError, match="no images"):
        list_frames(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


# --- video in and out ---------------------------------------------------------------------

def test_probe_and_decode(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", pan_frames(7, (48, 32)), Fraction(24000, 1001))
    info = video.probe(clip)
    assert (info.frames, info.rate, info.size, info.audio) == (7, Fraction(24000, 1001), (48, 32), True)
    frames = list(video.read_frames(clip))
    assert len(frames) == 7 and frames[0].size == (48, 32) and frames[0].mode == "RGB"
    # H.264 at crf 10: close to the pictures that went in
    ref = np.asarray(pan_frames(7, (48, 32))[3], np.float64)
    assert np.abs(np.asarray(frames[3], np.float64) - ref).mean() < 6


def test_write_video_keeps_frames_rate_and_audio(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", pan_frames(9, (48, 32)), Fraction(25))
    frames = [f.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for f in video.read_frames(clip)]
    out = tmp_path / "out.mp4"
    assert video.write_video(frames, out, Fraction(25), audio_from=clip) == 9
    info = video.probe(out)
    assert (info.frames, info.rate, info.size, info.audio) == (9, Fraction(25), (48, 32), True)
    assert audio_packets(out) == audio_packets(clip) and audio_packets(clip)  # copied unchanged
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_write_video_without_audio_and_encoder_options(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", pan_frames(4, (32, 16)), Fraction(30000, 1001), audio=False)
    out = tmp_path / "out.mkv"
    enc = video.Encoder(crf=30, options={"preset": "ultrafast"})
    assert enc.codec_options() == {"crf": "30", "preset": "ultrafast"}
    video.write_video(video.read_frames(clip), out, Fraction(30000, 1001), encoder=enc, audio_from=clip)
    info = video.probe(out)
    assert (info.frames, info.rate, info.audio) == (4, Fraction(30000, 1001), False)


def test_encoder_by_container_and_checked_before_work():
    assert video.Encoder().codec_for("a.mp4") == "libx264" and video.Encoder().codec_for("a.webm") == "libvpx-vp9"
    assert video.Encoder(codec="mpeg4").codec_for("a.webm") == "mpeg4"
    assert "crf" not in video.Encoder(codec="mpeg4").codec_options()
    video.Encoder().check("a.mp4")
    with pytest.raises(InputError, match="nope"):
        video.Encoder(codec="nope").check("a.mp4")
    with pytest.raises(InputError, match="aac"):
        video.Encoder(codec="aac").check("a.mp4")


def test_write_video_refuses_odd_sizes_for_yuv420p(tmp_path):
    with pytest.raises(InputError, match="even"):
        video.write_video([Image.new("RGB", (33, 16))], tmp_path / "out.mp4", Fraction(24))
    assert list(tmp_path.iterdir()) == []


def test_even_size():
    assert video.even_size((1920, 1080), 384) == (384, 216)
    assert video.even_size((640, 360), 385) == (384, 216)   # the long side rounded down to an even number
    assert video.even_size((360, 640), 385) == (216, 384)
    assert video.even_size((100, 3), 50) == (50, 2)
    assert all(v % 2 == 0 for v in video.even_size((1001, 777), 333))


def test_corrupt_video_is_one_clear_input_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(InputError) as e:
        video.probe(bad)
    assert "broken.mp4" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="no such file"):
        video.probe(tmp_path / "missing.mp4")


def test_is_video_by_extension_or_probe(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", pan_frames(2, (16, 16)), audio=False)
    (tmp_path / "clip").write_bytes(clip.read_bytes())
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    assert video.is_video(clip) and video.is_video(tmp_path / "missing.mkv")
    assert video.is_video(tmp_path / "clip")           # no extension: FFmpeg finds a video stream
    assert not video.is_video(tmp_path / "a.png") and not video.is_video(tmp_path)


# --- optical flow -------------------------------------------------------------------------

def test_flow_of_a_known_translation_and_warp_recovers_it():
    big = texture(80, 64)
    prev = to_tensor(Image.fromarray(big[4:52, 4:68].copy()))   # 64 x 48
    cur = to_tensor(Image.fromarray(big[6:54, 7:71].copy()))    # window 3 right, 2 down
    m = flow.motion(prev, cur)
    # cur(x) = prev(x + (3, 2)): the backward flow is (3, 2) everywhere
    inner = m.backward[6:-6, 6:-6]
    assert np.median(inner[..., 0]) == pytest.approx(3, abs=0.1)
    assert np.median(inner[..., 1]) == pytest.approx(2, abs=0.1)
    w = m.weights[0, 0]
    assert w[:, -3:].sum() == 0 and w[-2:, :].sum() == 0          # pixels whose source is outside prev
    assert w[4:-6, 4:-6].mean() > 0.95
    err = ((m.warp(prev) - cur).abs().mean(1)[0] * w).sum() / w.sum()
    assert err < 0.01 < (prev - cur).abs().mean()


def test_warp_by_a_whole_pixel_shift_is_exact():
    img = torch.rand(1, 3, 10, 12)
    f = np.zeros((10, 12, 2), np.float32)
    f[..., 0] = 2  # out(x) = img(x + 2)
    out, inside = flow.warp(img, f)
    assert torch.equal(out[..., :-2], img[..., 2:]) or torch.allclose(out[..., :-2], img[..., 2:], atol=1e-6)
    assert inside[0, 0, :, :-2].all() and not inside[0, 0, :, -2:].any()


def test_frames_are_warped_bicubic_losing_less_detail_than_bilinear():
    img = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    there, back = np.zeros((24, 32, 2), np.float32), np.zeros((24, 32, 2), np.float32)
    there[..., 0], back[..., 0] = 0.5, -0.5  # half a pixel right, and back: two resamplings
    inner = (..., slice(2, -2), slice(2, -2))
    frames = flow.Motion(back, torch.ones(1, 1, 24, 32)).warp(flow.Motion(there, torch.ones(1, 1, 24, 32)).warp(img))
    bilinear = flow.warp(flow.warp(img, there)[0], back)[0]
    assert 0 <= frames.min() and frames.max() <= 1
    assert (frames - img)[inner].abs().mean() < 0.8 * (bilinear - img)[inner].abs().mean()  # 0.75 on noise


def test_consistency_marks_disagreeing_flows_and_motion_boundaries():
    h, w = 20, 30
    b = np.zeros((h, w, 2), np.float32)
    b[..., 0] = 2
    agree = -b
    assert flow.consistency(b, agree)[0, 0, :, :w - 2].all()
    disagree = b.copy()  # forward flow that does not lead back: an occlusion
    assert not flow.consistency(b, disagree)[0, 0].any()
    edge = b.copy()
    edge[:, 15:, 0] = -4   # two regions moving apart: a motion boundary between them
    c = flow.consistency(edge, -edge)[0, 0]
    assert not c[:, 14:16].any() and c[:, 5:10].all()


# --- provenance in the container ------------------------------------------------------------

@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov", ".webm"])
def test_write_video_stores_a_description_provenance_reads(tmp_path, ext):
    from nst.jobs import provenance
    rec = {"nst": "0.1.0", "settings": {"content": "/a/\u00e9.mp4", "size": 32}, "sequence": {"frames": 3}}
    out = tmp_path / f"out{ext}"
    video.write_video(pan_frames(3, (16, 16)), out, Fraction(25), description=provenance.dumps(rec))
    assert provenance.read(out) == rec
    video.write_video(pan_frames(3, (16, 16)), out, Fraction(25))
    with pytest.raises(InputError, match="no nst settings stored"):
        provenance.read(out)


def test_provenance_reads_files_without_their_extension_by_content(tmp_path):
    """FFmpeg opens a PNG too: an image renamed without its extension is still read as an image."""
    from nst.jobs import provenance
    from nst.pixels.images import save_image
    rec = {"nst": "0.1.0", "settings": {"size": 32}}
    save_image(Image.fromarray(texture(16, 16)), tmp_path / "o.png", description=provenance.dumps(rec))
    (tmp_path / "o.png").rename(tmp_path / "image")
    assert provenance.read(tmp_path / "image") == rec
    video.write_video(pan_frames(3, (16, 16)), tmp_path / "o.mkv", Fraction(25), description=provenance.dumps(rec))
    (tmp_path / "o.mkv").rename(tmp_path / "clip")
    assert provenance.read(tmp_path / "clip") == rec
