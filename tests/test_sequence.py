"""Frame sequences: warm starts along the flow, the temporal term, resume from the frame outputs."""

import pytest
import torch
from conftest import make_style
from PIL import Image
from synthetic import pan_frames

from nst import Config, StyleTargets, Stylizer
from nst.core.objective import Temporal
from nst.errors import InputError
from nst.jobs import provenance
from nst.jobs.framecheck import OtherSettings, check_sizes, difference, frame_record, matches
from nst.jobs.sequence import FrameCheckpoints, FrameHooks, SequenceConfig, stylize_frames
from nst.pixels.images import load_image, to_tensor

CFG = dict(size=32, iterations=3, device="cpu")
STYLE = make_style()  # for the first frame's AdaIN start (the default init) and the disoccluded pixels


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer(Config(**CFG))


@pytest.fixture(scope="module")
def targets(stylizer):
    return StyleTargets(stylizer).of([("s", STYLE, 1.0)])


def record(cfg=CFG, seq=SequenceConfig(warm_iterations=2)):
    return {"nst": "test", "settings": {**cfg}, "sequence": {"temporal_weight": seq.temporal_weight,
                                              "warm_iterations": seq.warm_iterations}}


def run(stylizer, targets, frames, outputs, seq=SequenceConfig(warm_iterations=2), rec=None, on_note=None, **kw):
    calls = []
    out = stylize_frames(frames, outputs, stylizer, targets, seq, rec or record(seq=seq), style=STYLE,
                         hooks=FrameHooks(progress=lambda t, it: calls.append(t), on_note=on_note), **kw)
    return out, calls


def test_frames_warm_start_with_fewer_evaluations(tmp_path, stylizer, targets):
    frames = pan_frames(3, (32, 24))
    outputs = [tmp_path / f"{t}.png" for t in range(3)]
    out, calls = run(stylizer, targets, frames, outputs)
    assert [f.status for f in out.frames] == ["done"] * 3 and not out.stopped
    assert [calls.count(t) for t in range(3)] == [3, 2, 2]   # cold: cfg.iterations; warm: warm_iterations
    assert out.frames[0].J_temporal == 0 and out.frames[1].J_temporal > 0
    stored = provenance.read(outputs[2])
    assert stored["sequence"]["frame"] == 2 and stored["settings"]["size"] == 32
    assert all(load_image(p).size == (32, 24) for p in outputs)


def test_independent_frames_are_cold_starts(tmp_path, stylizer, targets):
    frames = pan_frames(2, (32, 24))
    seq = SequenceConfig(temporal_weight=0, warm_iterations=2)
    out, calls = run(stylizer, targets, frames, [tmp_path / "a.png", tmp_path / "b.png"], seq)
    assert calls == [0, 0, 0, 1, 1, 1] and all(f.J_temporal == 0 for f in out.frames)


def test_rerun_reuses_frames_and_resume_does_only_the_missing_ones(tmp_path, stylizer, targets):
    frames = pan_frames(4, (32, 24))
    outputs = [tmp_path / f"f{t}.png" for t in range(4)]
    run(stylizer, targets, frames, outputs)
    first = [load_image(p) for p in outputs]
    out, calls = run(stylizer, targets, frames, outputs)
    assert calls == [] and [f.status for f in out.frames] == ["reused"] * 4
    # interrupted after frame 1: frames 2 and 3 missing; a re-run makes them from frame 1's output
    outputs[2].unlink()
    outputs[3].unlink()
    out, calls = run(stylizer, targets, frames, outputs)
    assert sorted(set(calls)) == [2, 3] and [f.status for f in out.frames] == ["reused", "reused", "done", "done"]
    # the same pixels as the uninterrupted run (same device, same seed)
    assert [load_image(p).tobytes() for p in outputs] == [im.tobytes() for im in first]


def test_other_settings_refuse_the_frames_made_before_any_work_unless_replace(tmp_path, stylizer, targets):
    frames = pan_frames(2, (32, 24))
    outputs = [tmp_path / "a.png", tmp_path / "b.png"]
    run(stylizer, targets, frames, outputs)
    made = [p.read_bytes() for p in outputs]
    other = record(cfg={**CFG, "style_weight": 5.0})
    assert not matches(outputs[0], frame_record(other, 0)) and matches(outputs[0], frame_record(record(), 0))
    assert difference(outputs[0], frame_record(other, 0)) == "style_weight none, now 5"
    calls = []
    with pytest.raises(OtherSettings) as e:
        stylize_frames(frames, outputs, stylizer, targets, SequenceConfig(warm_iterations=2), other, style=STYLE,
                       hooks=FrameHooks(progress=lambda t, it: calls.append(t)))
    assert str(e.value) == (f"{tmp_path}: 2 frames made with other settings (a.png: style_weight none, now 5); "
                            "replace=True makes them again with these settings")
    assert calls == [] and [p.read_bytes() for p in outputs] == made, "nothing stylised, nothing replaced"
    # a sequence setting too, and a frame that holds no settings of nst's
    warm = SequenceConfig(warm_iterations=3)
    with pytest.raises(OtherSettings, match=r"\(a\.png: warm_iterations 2, now 3\)"):
        run(stylizer, targets, frames, outputs, warm)
    load_image(outputs[1]).save(outputs[1])  # the same picture, without its settings
    with pytest.raises(OtherSettings, match=r"^\S+: 1 frame made with other settings \(b\.png: no nst settings"):
        run(stylizer, targets, frames, outputs)
    out, calls = run(stylizer, targets, frames, outputs, rec=other, replace=True)
    assert [f.status for f in out.frames] == ["done", "done"]
    assert all(matches(p, frame_record(other, t)) for t, p in enumerate(outputs))


def test_frames_of_another_size_on_disk_are_refused_before_any_frame_from_their_headers(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, size in enumerate([(32, 24), (32, 24), (32, 24), (24, 32)]):
        pan_frames(1, size)[0].save(folder / f"f{t}.png")
    check_sizes(sorted(folder.iterdir())[:3])
    with pytest.raises(InputError, match=r"f3\.png: 24x32, but f0\.png is 32x24; the frames of a sequence must all "
                                         r"have one size"):
        check_sizes(sorted(folder.iterdir()))
    # by their EXIF orientation, as load_image turns them: a 24x32 frame turned a quarter is 32x24
    exif = Image.Exif()
    exif[0x0112] = 6
    pan_frames(1, (24, 32))[0].save(folder / "f3.png", exif=exif)
    assert load_image(folder / "f3.png").size == (32, 24)
    check_sizes(sorted(folder.iterdir()))


def test_should_stop_within_a_frame_writes_no_incomplete_frame(tmp_path, stylizer, targets):
    frames = pan_frames(3, (32, 24))
    outputs = [tmp_path / f"{t}.png" for t in range(3)]
    seen = []
    stop = lambda: len(seen) >= 4  # noqa: E731 - after the first frame's 3 evaluations and one of frame 1
    out = stylize_frames(frames, outputs, stylizer, targets, SequenceConfig(warm_iterations=2), record(),
                         style=STYLE, hooks=FrameHooks(progress=lambda t, it: seen.append(t), should_stop=stop))
    assert out.stopped and [f.index for f in out.frames] == [0]
    assert outputs[0].exists() and not outputs[1].exists() and not outputs[2].exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    out, calls = run(stylizer, targets, frames, outputs)
    assert sorted(set(calls)) == [1, 2]


def test_the_frame_in_progress_keeps_its_state_and_resumes_exactly(tmp_path, stylizer, targets):
    frames = pan_frames(3, (32, 24))
    seq = SequenceConfig(warm_iterations=6)
    setting = {"clip": "test"}  # what nst.jobs.checkpoint.settings gives for a clip: compared, not read
    whole = [tmp_path / "whole" / f"{t}.png" for t in range(3)]
    for p in whole:
        p.parent.mkdir(exist_ok=True)
    run(stylizer, targets, frames, whole, seq)
    outputs = [tmp_path / f"{t}.png" for t in range(3)]
    seen = []
    stop = lambda: len(seen) >= 3 + 4  # noqa: E731 - in frame 1, after 4 of its 6 evaluations
    out = stylize_frames(frames, outputs, stylizer, targets, seq, record(seq=seq), style=STYLE,
                         checkpoints=FrameCheckpoints(setting),
                         hooks=FrameHooks(progress=lambda t, it: seen.append(t), should_stop=stop))
    assert out.stopped and out.frame == 1 and out.kept.i == 4 and out.kept.total == 6
    assert out.partial == tmp_path / "1.partial.png" and out.partial.exists() and not outputs[1].exists()
    notes = []
    out, calls = run(stylizer, targets, frames, outputs, seq, checkpoints=FrameCheckpoints(setting),
                     on_note=notes.append)
    assert notes == [f"resuming frame 1 at evaluation 4 of 6 from {tmp_path / '1.partial.pt'}"]
    assert [calls.count(t) for t in range(3)] == [0, 2, 6]   # only what was left of frame 1
    assert [f.evaluations for f in out.done] == [2, 6]
    assert not list(tmp_path.glob("*.partial.*"))
    # the same pixels as the uninterrupted run (same device, same seed)
    assert [load_image(p).tobytes() for p in outputs] == [load_image(p).tobytes() for p in whole]
    # other settings: the partial state is not used, in one note
    for p in outputs[1:]:
        p.unlink()
    seen.clear()
    out = stylize_frames(frames, outputs, stylizer, targets, seq, record(seq=seq), style=STYLE,
                         checkpoints=FrameCheckpoints(setting),
                         hooks=FrameHooks(progress=lambda t, it: seen.append(t), should_stop=lambda: len(seen) >= 2))
    assert out.frame == 1 and out.kept.i == 0  # before L-BFGS's first iteration ended: the frame's start (#17.5)
    notes.clear()
    run(stylizer, targets, frames, outputs, seq, checkpoints=FrameCheckpoints({"clip": "other"}), on_note=notes.append)
    assert len(notes) == 1 and "made with other settings" in notes[0] and "starting frame 1 over" in notes[0]


def test_frames_of_different_sizes_are_an_input_error(tmp_path, stylizer, targets):
    frames = [pan_frames(1, (32, 24))[0], pan_frames(1, (24, 32))[0]]
    with pytest.raises(InputError, match="one size"):
        run(stylizer, targets, frames, [tmp_path / "a.png", tmp_path / "b.png"])


def test_a_heavy_temporal_term_holds_g_to_its_target(stylizer, targets):
    content = pan_frames(1, (32, 24))[0]
    target = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(1))
    weights = torch.ones(1, 1, 24, 32)
    out = stylizer.run(content, targets, temporal=Temporal(target, weights, 1e6), init=target, scales=[(32, 5)]).image
    assert (to_tensor(out) - target).abs().mean() < 1 / 255
    free = stylizer.run(content, targets, init=target, scales=[(32, 5)]).image
    assert (to_tensor(free) - target).abs().mean() > 4 / 255


def test_the_temporal_term_compares_pixels_without_a_blur_and_low_passes_with_one():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 24, 32, generator=g)
    weights = (torch.rand(1, 1, 24, 32, generator=g) > 0.3).float()
    G = torch.rand(1, 3, 24, 32, generator=g)
    exact = (weights * (G - target).pow(2)).sum() / G.numel()
    assert torch.allclose(Temporal(target, weights, 1.0)(G), exact)
    ones = torch.ones(1, 1, 24, 32)
    # a uniform change of colour passes the low-pass as it is: the same cost, d^2
    assert torch.allclose(Temporal(target, ones, 1.0, blur=1.0)(target + 0.1), torch.tensor(0.01), rtol=1e-4)
    # a pixel-scale pattern (+-0.1 in a checkerboard) is the finest detail: nearly free through it
    y, x = torch.meshgrid(torch.arange(24), torch.arange(32), indexing="ij")
    checker = 0.1 * (1 - 2 * ((x + y) % 2)).float()
    assert torch.allclose(Temporal(target, ones, 1.0)(target + checker), torch.tensor(0.01))
    assert Temporal(target, ones, 1.0, blur=1.0)(target + checker) < 1e-3 * 0.01


def test_sequence_config_checks_its_values():
    with pytest.raises(InputError, match="temporal_weight"):
        SequenceConfig(temporal_weight=-1)
    with pytest.raises(InputError, match="temporal_blur"):
        SequenceConfig(temporal_blur=-1)
    with pytest.raises(InputError, match="flow"):
        SequenceConfig(flow="slow")
    assert SequenceConfig(temporal_weight=0).independent
