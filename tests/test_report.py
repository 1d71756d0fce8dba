"""Contact sheets, GIF animations, run logs and loss plots."""

import json
import sys

import pytest
from PIL import Image

from nst.cli.report import LABEL_HEIGHT, PAD, contact_sheet, load_log, plot_log, save_animation
from nst.errors import InputError, NSTError

COLOURS = [(220, 20, 20), (20, 200, 40), (30, 40, 220), (240, 200, 10), (150, 20, 160)]
SIZES = [(20, 20), (40, 30), (30, 50), (64, 64), (40, 20)]  # the last sets the cells: 2:1


def frames():
    return [Image.new("RGB", s, c) for s, c in zip(SIZES, COLOURS)]


def close(a, b, tol=12):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def test_contact_sheet_grid_and_cells():
    thumb = 32
    sheet = contact_sheet(frames(), labels=[f"i={k} J=3.1" for k in range(5)], thumb=thumb)
    columns, rows = 3, 2  # ceil(sqrt(5)) columns
    cell_w, cell_h = thumb + PAD, thumb // 2 + PAD + LABEL_HEIGHT
    assert sheet.mode == "RGB"
    assert sheet.size == (columns * cell_w + PAD, rows * cell_h + PAD)
    for k, colour in enumerate(COLOURS):
        x0, y0 = PAD + (k % columns) * cell_w, PAD + (k // columns) * cell_h
        assert close(sheet.getpixel((x0 + thumb // 2, y0 + thumb // 4)), colour)
    assert sheet.getpixel((sheet.width - 1, sheet.height - 1)) == (255, 255, 255)


def test_contact_sheet_columns_without_labels():
    sheet = contact_sheet(frames(), columns=5, thumb=16)
    assert sheet.size == (5 * (16 + PAD) + PAD, 8 + 2 * PAD)


def test_contact_sheet_bad_input():
    with pytest.raises(InputError, match="labels"):
        contact_sheet(frames(), labels=["a", "b"])
    with pytest.raises(InputError, match="no frames"):
        contact_sheet([])
    with pytest.raises(InputError, match="columns"):
        contact_sheet(frames(), columns=0)


def test_animation_round_trip(tmp_path):
    path = save_animation(frames(), tmp_path / "run.gif", duration_ms=80, hold_last_ms=1500)
    assert path == tmp_path / "run.gif"
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]  # no temporary file left
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.info["loop"] == 0
        for k in range(gif.n_frames):
            gif.seek(k)
            assert gif.size == SIZES[-1]
            assert gif.info["duration"] == (1500 if k == 4 else 80)
            assert close(gif.convert("RGB").getpixel((5, 12)), COLOURS[k])


def test_animation_wrong_extension(tmp_path):
    with pytest.raises(InputError, match=r"\.gif"):
        save_animation(frames(), tmp_path / "run.png")
    assert list(tmp_path.iterdir()) == []


def test_load_log_bad_files(tmp_path):
    with pytest.raises(InputError, match="missing.json"):
        load_log(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        load_log(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"evaluations": 3}))
    with pytest.raises(InputError, match="wrong.json"):
        load_log(wrong)


def make_log():
    evaluations = []
    for i in range(1, 21):
        scale = 0 if i <= 10 else 1
        side = 96 if scale == 0 else 192
        evaluations.append({
            "i": i, "scale": scale, "size": [side, side], "J": 1000 / i, "J_content": 0.0 if i == 1 else 5 / i,
            "J_style": 90 / i, "J_tv": 0.01, "seconds": 0.1,
            "style_layers": {f"conv{l}_1": 10.0 ** (2 - l) / i for l in range(1, 6)},
        })
    return {"nst": "0.1.0", "settings": {"content_weight": 1.0, "style_weight": 10.0, "tv_weight": 0.0},
            "evaluations": evaluations}


def test_plot_log_png(tmp_path):
    log_path = tmp_path / "run.json"
    log_path.write_text(json.dumps(make_log()))
    path = plot_log(load_log(log_path), tmp_path / "loss.png", title="a run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "run.json"]
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert 400 <= img.width <= 4000 and 200 <= img.height <= 3000
        assert img.width > img.height  # two panels side by side


def test_plot_log_wrong_extension(tmp_path):
    with pytest.raises(InputError, match=r"\.gif"):
        plot_log(make_log(), tmp_path / "loss.gif")


def test_plot_log_without_matplotlib(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(NSTError, match="pip install matplotlib"):
        plot_log(make_log(), tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []


def test_plot_leaves_out_rounding_noise():
    """J_content ~4e-13 at the first evaluation (exactly 0 in exact arithmetic) must not stretch the
    log axis over ten empty decades: the axis starts near the real curves."""
    pytest.importorskip("matplotlib")
    from nst.cli.report import loss_figure, negligible

    log = make_log()
    log["evaluations"][0]["J_content"] = 3.961e-13
    log["evaluations"][0]["style_layers"]["conv5_1"] = 2e-14  # noise next to J = 1000
    fig = loss_figure(log)
    left, right = fig.axes[:2]
    content = next(line for line in left.lines if line.get_label().startswith("α·J_content"))
    assert list(content.get_xdata()) == list(range(2, 21)), "the noise point is left out, the rest kept"
    lowest_real = min(5 / 20, 90 * 10 / 20, 1000 / 20)
    assert lowest_real / 10 < left.get_ylim()[0] < lowest_real
    lowest_layer = 10.0 ** (2 - 5) / 20
    assert lowest_layer / 10 < right.get_ylim()[0] < lowest_layer
    assert negligible(3.961e-13, 812.0) and not negligible(1e-3, 812.0)


def test_a_resumed_run_s_log_continues_only_the_stopped_log_of_its_settings_up_to_where_it_resumed(tmp_path):
    """#30.5: which earlier log a resumed run's --log continues, and how."""
    from nst.cli.report import RunRecord

    settings = {"content": "/c.png", "style": "/s.png", "iterations": 6, "device": "cpu", "precision": "float32"}
    log = tmp_path / "run.json"

    def record(numbers, start=0.0):
        r = RunRecord(frames=False)
        r.evaluations = [{"i": i, "J": 1.0 / i, "seconds": start + 0.5 * k} for k, i in enumerate(numbers, 1)]
        return r

    def stopped(numbers, **extra):
        path, what = record(numbers).write_log(log, {"settings": settings, **extra}, stopped="SIGINT")
        assert (path, what) == (log, f"the costs of {len(numbers)} evaluations, up to the stop by SIGINT")
        assert json.loads(log.read_text())["stopped"] == "SIGINT"

    def resumed(new_settings=settings):
        path, what = record([4, 5, 6]).write_log(log, {"settings": new_settings}, resumed_from=3)
        rec = json.loads(log.read_text())
        return [e["i"] for e in rec["evaluations"]], [e["seconds"] for e in rec["evaluations"]], rec, what

    stopped([1, 2, 3, 4])  # stopped at 4, its state kept at 3: evaluation 4 is done again
    numbers, seconds, rec, what = resumed({**settings, "device": "cuda", "precision": "bfloat16"})
    assert numbers == [1, 2, 3, 4, 5, 6] and seconds == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert rec["resumed_at"] == [3] and "stopped" not in rec and load_log(log)["evaluations"][3]["J"] == 0.25
    assert what == "the costs of 6 evaluations, continuing the stopped run's from evaluation 3"
    # a finished log is not continued: only this run's evaluations, and where it took over
    numbers, _, rec, what = resumed()
    assert numbers == [4, 5, 6] and rec["resumed_at"] == [3] and what == "the costs of 3 evaluations"
    # nor a stopped log of other settings, or one that stops short of where the run resumed
    stopped([1, 2, 3, 4])
    assert resumed({**settings, "iterations": 7})[0] == [4, 5, 6]
    stopped([1, 2])
    assert resumed()[0] == [4, 5, 6]
    # resumed at 0 (stopped in L-BFGS's first iteration, nothing kept before it): a resumed run still
    stopped([1, 2, 3])
    path, what = record([1, 2, 3, 4, 5, 6]).write_log(log, {"settings": settings}, resumed_from=0)
    rec = json.loads(log.read_text())
    assert [e["i"] for e in rec["evaluations"]] == [1, 2, 3, 4, 5, 6] and rec["resumed_at"] == [0]
    assert what == "the costs of 6 evaluations, continuing the stopped run's from evaluation 0"
    # a run that did not resume writes its own log, whatever is there
    stopped([1, 2, 3, 4])
    record([1, 2]).write_log(log, {"settings": settings})
    assert [e["i"] for e in load_log(log)["evaluations"]] == [1, 2] and "resumed_at" not in load_log(log)
