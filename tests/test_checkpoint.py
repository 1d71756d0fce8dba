"""Partial results: the loop's state and exact continuation, non-finite J, checkpoint files,
resuming in run_batch, and failures that must not leave a file under an output's final name."""

import errno
import json
import math
import os
import re
from unittest import mock

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import make_content, make_style
from PIL import Image

from nst.cli import main
from nst.core import optim, runs
from nst.core import stylizer as transfer
from nst.core.config import Config
from nst.core.objective import Evaluation
from nst.core.optim import NonFiniteError, minimize
from nst.errors import NSTError
from nst.jobs import checkpoint
from nst.jobs.batch import Job, run_batch
from nst.pixels import images

# --- the loop, on an analytic objective -----------------------------------------------------


class Quartic:
    """J(G) = sum (G - T)^2 + sum (G - T)^4 + 30 sum of squared neighbour differences: smooth, not
    quadratic and ill-conditioned, so L-BFGS needs its history and is still descending after 40
    evaluations. ``bad`` makes the listed calls (1-based) return NaN."""

    def __init__(self, shape=(1, 3, 16, 16), bad=()):
        self.T = torch.rand(shape, generator=torch.Generator().manual_seed(1))
        self.bad, self.calls = set(bad), 0

    def __call__(self, G):
        self.calls += 1
        x = G.detach().requires_grad_(True)
        d = x - self.T
        J = d.square().sum() + d.pow(4).sum() + 30 * (x[..., 1:] - x[..., :-1]).square().sum()
        J.backward()
        J = J.detach()
        grad = x.grad
        if self.calls in self.bad:
            grad = torch.full_like(grad, math.nan)
        return Evaluation(float(J), float(J), 0.0, {}, 0.0, 0.0, grad)


def trajectory(optimizer, evaluations, state=None, stop_after=None, f=None, lr=None):
    f = f or Quartic()
    Js = []
    init = torch.full_like(f.T, 0.5)
    outcome = minimize(f, init, evaluations, optimizer=optimizer, lr=lr or (1.0 if optimizer == "lbfgs" else 0.05),
                       on_evaluation=lambda ev, G: Js.append(ev.J), state=state,
                       should_stop=None if stop_after is None else lambda: len(Js) >= stop_after)
    return outcome, Js


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_state_continues_the_loop_exactly(optimizer):
    _, full = trajectory(optimizer, 40)
    first, before = trajectory(optimizer, 40, stop_after=13)
    assert first.stopped and first.evaluations == 13
    state = first.state()
    kept = state["evaluations"]  # the last iteration boundary: later evaluations are redone
    assert 10 <= kept <= 13
    second, after = trajectory(optimizer, 40 - kept, state=state)
    assert not second.stopped
    assert before[:kept] + after == pytest.approx(full, rel=1e-12), "the same points as without a stop"


def test_lbfgs_never_evaluates_a_point_twice():
    """One L-BFGS iteration per step(): the point each step starts from is answered from its line
    search, not evaluated again (which would cost an evaluation of the budget)."""
    f = Quartic()
    seen = []
    outcome = minimize(lambda G: seen.append(G.numpy().tobytes()) or f(G), torch.full_like(f.T, 0.5), 40)
    assert outcome.evaluations == 40 and len(seen) == 40 and len(set(seen)) == 40


def test_state_keeps_the_latest_curvature_pairs_that_fit():
    first, _ = trajectory("lbfgs", 40, stop_after=20)
    whole = first.state()
    assert len(whole["opt"]["old_dirs"]) >= 5
    pair = 2 * whole["z"].numel() * 4
    some = first.state(max_bytes=3 * pair)
    assert len(some["opt"]["old_dirs"]) == 3
    for a, b in zip(some["opt"]["old_dirs"], whole["opt"]["old_dirs"][-3:]):
        assert torch.equal(a, b)
    resumed, Js = trajectory("lbfgs", 20, state=some)
    assert resumed.evaluations == 20 and min(Js) < whole["J"]


def test_state_is_on_the_cpu_and_detached():
    first, _ = trajectory("lbfgs", 30, stop_after=10)
    state = first.state()
    tensors = [state["z"], state["grad"], *state["opt"]["old_dirs"]]
    assert all(t.device.type == "cpu" and not t.requires_grad for t in tensors)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_non_finite_evaluation_restarts_from_the_best_with_a_smaller_step(optimizer):
    f = Quartic(bad={6, 7})
    outcome, Js = trajectory(optimizer, 25, f=f)
    assert outcome.restarts == 2
    assert outcome.evaluations == 25 and len(Js) == 25, "NaN evaluations are neither counted nor reported"
    assert all(math.isfinite(j) for j in Js)
    assert torch.isfinite(outcome.best).all() and outcome.best_evaluation.J == min(Js)
    assert min(Js) < Js[0]


def test_non_finite_at_the_first_evaluation_fails_at_once():
    with pytest.raises(NonFiniteError) as e:
        trajectory("lbfgs", 10, f=Quartic(bad={1}))
    assert e.value.at_start


def test_non_finite_that_persists_fails_after_the_restarts():
    f = Quartic(bad=range(4, 100))
    with pytest.raises(NonFiniteError, match="restarts") as e:
        trajectory("lbfgs", 20, f=f)
    assert not e.value.at_start
    assert f.calls == 3 + optim.MAX_RESTARTS + 1


# --- the files ------------------------------------------------------------------------------


def small_state(scale=0, done=3):
    G = torch.rand(1, 3, 5, 6)
    return runs.RunState(G, G, scale, done, done, 10, 1.5, 0.5, 0.1, optimizer={"optimizer": "lbfgs",
                                                                                    "z": G / 2, "k": 2.0})


def test_partial_files_sit_beside_the_output(tmp_path):
    out = tmp_path / "dir" / "cat_ink.jpg"
    assert checkpoint.preview_path(out) == tmp_path / "dir" / "cat_ink.partial.jpg"
    assert checkpoint.state_path(out) == tmp_path / "dir" / "cat_ink.partial.pt"


def test_save_load_round_trip_and_remove(tmp_path, pair):
    out = tmp_path / "out.png"
    cfg = Config(size=32, iterations=10)
    setting = checkpoint.settings(cfg, *pair[:1], [(pair[1], 1.0)])
    state = small_state()
    preview = checkpoint.save(out, state, setting, {"nst": "x", "settings": {}})
    assert preview.exists() and not out.exists()
    assert json.loads(images.read_description(preview))["partial"] == {"evaluations": 3, "total": 10}
    back = checkpoint.load(out, setting)
    assert torch.equal(back.G, state.G) and (back.scale, back.done, back.i, back.total) == (0, 3, 3, 10)
    assert torch.equal(back.optimizer["z"], state.optimizer["z"]) and back.J == 1.5
    checkpoint.remove(out)
    assert not any(tmp_path.glob("out.partial*"))
    assert checkpoint.load(out, setting) is None


def test_the_keeper_saves_each_state_at_once_and_holds_none_of_its_tensors(tmp_path, pair):
    # the run's periodic states share its tensors (Run.state): the keeper must not hold them
    out = tmp_path / "out.png"
    setting = checkpoint.settings(Config(size=32, iterations=10), *pair[:1], [(pair[1], 1.0)])
    keeper = checkpoint.Keeper(out, setting, {"nst": "x", "settings": {}})
    state = small_state()
    keeper(state)
    assert checkpoint.load(out, setting).i == 3
    kept = keeper.kept
    assert (kept.i, kept.total, kept.J, kept.stopped) == (3, 10, 1.5, False)
    assert not any(isinstance(v, torch.Tensor) for v in vars(kept).values())
    assert keeper.stopped is None and keeper.problem is None


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_shared_state_continues_the_loop_exactly_too(optimizer):
    # Outcome.state(copy=False), as nst's run takes it, saved at once: the same continuation
    _, full = trajectory(optimizer, 40)
    first, before = trajectory(optimizer, 40, stop_after=13)
    state = first.state(copy=False)
    if optimizer == "adam":  # the loop's own moments, not copies
        assert state["opt"]["exp_avg"].data_ptr() == first._boundary["opt"]["exp_avg"].data_ptr()
    kept = state["evaluations"]
    second, after = trajectory(optimizer, 40 - kept, state=state)
    assert before[:kept] + after == pytest.approx(full, rel=1e-12)


def test_settings_ignore_device_and_paths_but_not_contents(tmp_path, pair):
    c, s = pair
    a = checkpoint.settings(Config(size=32, device="cpu"), c, [(s, 1.0)])
    moved = tmp_path / "elsewhere.png"
    moved.write_bytes(c.read_bytes())
    assert checkpoint.settings(Config(size=32, device="cuda", precision="bfloat16"), moved, [(s, 1.0)]) == a
    make_content((50, 40)).save(moved)
    assert checkpoint.settings(Config(size=32), moved, [(s, 1.0)]) != a
    assert checkpoint.settings(Config(size=32, style_weight=30), c, [(s, 1.0)]) != a


def test_stale_states_say_why(tmp_path, pair):
    c, s = pair
    out = tmp_path / "out.png"
    setting = checkpoint.settings(Config(size=32), c, [(s, 1.0)])
    checkpoint.save(out, small_state(), setting)
    with pytest.raises(checkpoint.StaleState, match=r"made with other settings \(style_weight 10, now 30\)"):
        checkpoint.load(out, checkpoint.settings(Config(size=32, style_weight=30), c, [(s, 1.0)]))
    with pytest.raises(checkpoint.StaleState, match="the content file changed"):
        checkpoint.load(out, checkpoint.settings(Config(size=32), s, [(s, 1.0)]))
    os.replace(checkpoint.state_path(out), checkpoint.state_path(tmp_path / "other.png"))
    with pytest.raises(checkpoint.StaleState, match="partial result of out.png, not of other.png"):
        checkpoint.load(tmp_path / "other.png", setting)
    checkpoint.state_path(out).write_bytes(b"\x80\x02 half a pickle")
    with pytest.raises(checkpoint.StaleState, match="unreadable"):
        checkpoint.load(out, setting)


# --- run_batch: stop, keep, resume ------------------------------------------------------------


@pytest.fixture(autouse=True)
def one_network_per_config(monkeypatch):
    """run_batch builds a Stylizer (the network) per call; these tests make many calls with a few
    Configs, so share one per Config (they hold no state between runs)."""
    import functools

    import nst.jobs.batch
    monkeypatch.setattr(nst.jobs.batch, "Stylizer", functools.lru_cache(maxsize=None)(transfer.Stylizer))


def batch(pair, out, cfg, stop_after=None, **kw):
    its, notes = [], []
    stop = None if stop_after is None else (lambda: len(its) >= stop_after)
    results = list(run_batch([Job(pair[0], ((pair[1], 1.0),), out)], cfg, should_stop=stop,
                             on_iterate=lambda job, it: its.append(it), on_note=lambda job, m: notes.append(m),
                             **kw))
    return results, its, notes


@pytest.mark.parametrize("options, stop", [(dict(size=32, iterations=14), 8),
                                           (dict(size=91, iterations=12, scales=2), 4),  # resumes across scales
                                           (dict(size=32, iterations=12, optimizer="adam"), 6),
                                           (dict(size=32, iterations=12, preserve_color="luminance"), 6)])
def test_interrupted_job_keeps_its_work_and_resumes_it(tmp_path, pair, options, stop):
    cfg = Config(device="cpu", **options)
    total = cfg.iterations
    [whole], _, _ = batch(pair, tmp_path / "whole.png", cfg)
    out = tmp_path / "out.png"
    [r], its, _ = batch(pair, out, cfg, stop_after=stop)
    assert r.status == "interrupted" and r.total == total and not out.exists()
    assert r.partial == checkpoint.preview_path(out) and r.partial.exists() and checkpoint.state_path(out).exists()
    kept = r.evaluations
    assert stop - 3 <= kept <= stop and len(its) == stop
    [r2], its2, notes = batch(pair, out, cfg)
    assert r2.status == "done" and r2.resumed_from == kept
    assert [it.i for it in its2] == list(range(kept + 1, total + 1)), "only the remaining evaluations"
    assert notes == [f"resuming {out} at evaluation {kept} of {total} from {checkpoint.state_path(out)}"]
    assert r2.J == pytest.approx(whole.J, rel=0.02)  # the bound; in fact the same points
    assert r2.J == pytest.approx(whole.J, rel=1e-4)
    assert out.exists() and not checkpoint.preview_path(out).exists() and not checkpoint.state_path(out).exists()


def test_restart_ignores_the_partial_result(tmp_path, pair):
    cfg = Config(size=32, iterations=6, device="cpu")
    out = tmp_path / "out.png"
    batch(pair, out, cfg, stop_after=3)
    [r], its, notes = batch(pair, out, cfg, restart=True)
    assert r.status == "done" and r.resumed_from is None and its[0].i == 1 and notes == []
    assert not checkpoint.state_path(out).exists()


def test_other_settings_start_over_with_one_note(tmp_path, pair):
    out = tmp_path / "out.png"
    batch(pair, out, Config(size=32, iterations=6, device="cpu"), stop_after=3)
    [r], its, notes = batch(pair, out, Config(size=32, iterations=6, style_weight=30, device="cpu"))
    assert r.status == "done" and its[0].i == 1 and len(its) == 6
    assert len(notes) == 1 and "style_weight 10, now 30" in notes[0] and notes[0].endswith("starting over")


def test_periodic_checkpoints_survive_a_kill(tmp_path, pair):
    """A kill (here: an exception no handler sees) after some checkpoints: the last one resumes."""
    cfg = Config(size=32, iterations=12, device="cpu")
    out = tmp_path / "out.png"
    its = []

    def killed(job, it):
        its.append(it)
        if it.i == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(run_batch([Job(pair[0], ((pair[1], 1.0),), out)], cfg, on_iterate=killed, checkpoint_every=1e-9))
    state = checkpoint.load(out, checkpoint.settings(cfg, pair[0], [(pair[1], 1.0)]))
    assert 6 <= state.i <= 8 and not out.exists()
    [r], its2, _ = batch(pair, out, cfg)
    assert r.resumed_from == state.i and its2[0].i == state.i + 1 and its2[-1].i == 12


def test_no_periodic_checkpoint_when_switched_off(tmp_path, pair, monkeypatch):
    saved = []
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: saved.append(a))
    batch(pair, tmp_path / "out.png", Config(size=32, iterations=8, device="cpu"), checkpoint_every=0)
    assert saved == []
    batch(pair, tmp_path / "out2.png", Config(size=32, iterations=8, device="cpu"), checkpoint_every=1e-9)
    assert len(saved) == 7  # after every evaluation but the last


def test_unwritable_checkpoint_is_said_and_the_run_goes_on(tmp_path, pair, monkeypatch):
    def full_disk(output, *a, **k):
        raise NSTError(f"{checkpoint.state_path(output)}: cannot write (No space left on device)")

    monkeypatch.setattr(checkpoint, "save", full_disk)
    out = tmp_path / "out.png"
    [r], _, notes = batch(pair, out, Config(size=32, iterations=8, device="cpu"), checkpoint_every=1e-9)
    assert r.status == "done" and out.exists()
    assert notes == [f"{checkpoint.state_path(out)}: cannot write (No space left on device); no partial result kept"]
    [r], _, _ = batch(pair, tmp_path / "o2.png", Config(size=32, iterations=8, device="cpu"), stop_after=3)
    assert r.status == "interrupted" and r.partial is None and "nothing kept" in r.error


# --- non-finite J through the stylizer --------------------------------------------------------


def test_huge_weight_fails_in_one_line_naming_it(tmp_path, pair):
    out = tmp_path / "out.png"
    [r], _, _ = batch(pair, out, Config(size=32, iterations=4, style_weight=1e39, device="cpu"))
    assert r.status == "failed" and not out.exists() and not any(tmp_path.glob("out*"))
    assert "not finite" in r.error and "style_weight=1e+39 too large" in r.error
    res = CliRunner().invoke(main, [str(pair[0]), str(pair[1]), "-o", str(out), "--size", "32", "--iterations", "4",
                                    "--device", "cpu", "--style-weight", "1e39"])
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1 and "style_weight" in res.stderr
    assert not out.exists()


def test_nan_mid_run_is_recovered_and_no_nan_pixel_is_written(tmp_path, pair, monkeypatch):
    real = transfer.Stylizer.objective
    calls = []

    def faulty(self, *args, **kwargs):
        objective = real(self, *args, **kwargs)

        def evaluate(G):
            ev = objective(G)
            calls.append(1)
            if len(calls) in (5, 6):  # a numerical fault: NaN J and gradient
                return Evaluation(math.nan, ev.J_content, ev.J_style, ev.style_layers, ev.J_tv, ev.J_temporal,
                                  torch.full_like(ev.grad, math.nan))
            return ev
        return evaluate

    monkeypatch.setattr(transfer.Stylizer, "objective", faulty)
    out = tmp_path / "out.png"
    [r], its, _ = batch(pair, out, Config(size=32, iterations=10, device="cpu"))
    assert r.status == "done" and math.isfinite(r.J) and len(its) == 10
    assert all(math.isfinite(it.J) for it in its) and r.J < its[0].J
    a = np.asarray(Image.open(out), dtype=float)
    assert a.std() > 10, "a picture, not the black of NaN pixels"


# --- failures while writing: that job only ------------------------------------------------------


def test_unwritable_output_fails_its_job_only_and_keeps_its_work(tmp_path):
    """#17.2: a write that fails at the end (a full disk) fails its job only, and keeps the
    finished image as its partial result, which running the command again writes."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "abc":
        make_content().save(photos / f"{name}.png")
    style = tmp_path / "s.png"
    make_style().save(style)
    out = tmp_path / "out"
    real_replace = os.replace

    def full_disk(src, dst):
        if str(dst).endswith("c_s.jpg"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    args = [str(photos), str(style), "-o", str(out), "--size", "32", "--iterations", "2", "--device", "cpu", "--json"]
    with mock.patch.object(images.os, "replace", full_disk):
        r = CliRunner().invoke(main, args)
    assert r.exit_code == 1
    rows = {os.path.basename(j["output"]): j for j in map(json.loads, r.stdout.splitlines())}
    assert {k: v["status"] for k, v in rows.items()} == {"a_s.jpg": "done", "b_s.jpg": "done", "c_s.jpg": "failed"}
    said = (f"{out / 'c_s.jpg'}: cannot write (No space left on device); the finished image is kept in "
            f"{out / 'c_s.partial.jpg'}: run the same command again to write it")
    assert rows["c_s.jpg"]["error"] == said
    lines = r.stderr.strip().splitlines()
    assert sum(said in line for line in lines) == 1
    assert re.search(r"nst: 2 done, 0 skipped, 1 failed", lines[-1])
    assert sorted(p.name for p in out.iterdir()) == ["a_s.jpg", "b_s.jpg", "c_s.partial.jpg", "c_s.partial.pt"]
    r = CliRunner().invoke(main, args + ["--skip-existing"])
    assert r.exit_code == 0, r.output
    assert f"resuming {out / 'c_s.jpg'} at evaluation 2 of 2" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a_s.jpg", "b_s.jpg", "c_s.jpg"]


def test_an_output_that_cannot_be_written_stops_the_run_before_any_work(tmp_path):
    """#17.2: a directory in the place of an output is found before any evaluation: exit 2, one line."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "abc":
        make_content().save(photos / f"{name}.png")
    style = tmp_path / "s.png"
    make_style().save(style)
    out = tmp_path / "out"
    (out / "b_s.jpg").mkdir(parents=True)  # cannot be replaced by a file
    with mock.patch.object(transfer.Stylizer, "run", side_effect=AssertionError("no work")):
        r = CliRunner().invoke(main, [str(photos), str(style), "-o", str(out), "--size", "32", "--iterations", "2",
                                      "--device", "cpu"])
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == f"Error: {out / 'b_s.jpg'}: is a directory; give a file name"
    assert sorted(p.name for p in out.iterdir()) == ["b_s.jpg"]


@pytest.mark.parametrize("options, stops", [(dict(size=32, iterations=8), (1, 2, 3, 5)),
                                            (dict(size=45, iterations=8, scales=2), (1, 4, 5, 6))])
def test_resume_is_bit_exact_from_any_evaluation(tmp_path, pair, options, stops):
    """#17.5: stopped at any evaluation, the first ones included (before L-BFGS's first iteration
    ends) and the first of a scale, the resumed run writes the same pixels as an uninterrupted one."""
    cfg = Config(device="cpu", **options)
    batch(pair, tmp_path / "whole.png", cfg)
    whole = np.asarray(Image.open(tmp_path / "whole.png"))
    for k in stops:  # the scales of the second: 4 + 4 evaluations
        out = tmp_path / f"out{k}.png"
        [r], _, _ = batch(pair, out, cfg, stop_after=k)
        assert r.status == "interrupted"
        [r2], _, _ = batch(pair, out, cfg)
        assert r2.status == "done" and r2.resumed_from == r.evaluations
        assert np.array_equal(np.asarray(Image.open(out)), whole), f"stopped at evaluation {k}"
