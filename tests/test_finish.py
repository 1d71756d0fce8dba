"""The defaults that depend on how a run goes (#34): init 'auto' starts from the AdaIN picture for a
short run and from the content for a long one; precision 'auto' runs a bfloat16 network until an
L-BFGS step finds no lower J (bfloat16's rounding swamps J's changes late in a long run), then
goes on in float32 from the same L-BFGS state, and such a run resumes bit for bit across the
handover."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from nst.core import network
from nst.core.config import LONG_RUN, Config
from nst.core.objective import Evaluation
from nst.core.optim import for_another_objective, minimize
from nst.jobs.batch import Job, run_batch

from test_checkpoint import Quartic


def test_init_auto_is_adain_for_short_runs_and_the_content_for_long_ones():
    assert Config().init == "auto"
    assert Config(iterations=LONG_RUN - 1).start == "adain"
    assert Config(iterations=LONG_RUN).start == "content"
    assert Config(iterations=0).start == "adain"  # the preview
    assert Config(iterations=500, init="adain").start == "adain"  # asked for: kept


def test_float32_takes_over_on_a_stall_with_precision_auto_only():
    assert Config().float32_on_stall
    assert not Config(precision="bfloat16").float32_on_stall
    assert not Config(precision="float32").float32_on_stall


class Floored(Quartic):
    """The quartic with J rounded down to ``step``: an objective whose rounding swamps its changes
    near the minimum (as a bfloat16 network's late in a run); the gradient exact."""

    def __init__(self, step=0.01):
        super().__init__()
        self.step = step

    def __call__(self, G):
        ev = super().__call__(G)
        J = math.floor(ev.J / self.step) * self.step
        return Evaluation(J, J, 0.0, {}, 0.0, 0.0, ev.grad)


def test_minimize_until_stall_returns_at_the_first_step_that_finds_no_lower_J():
    Js = []
    o = minimize(Floored(), torch.full((1, 3, 16, 16), 0.5), 200, on_evaluation=lambda ev, G: Js.append(ev.J),
                 until_stall=True)
    assert o.stalled and not o.stopped and 5 < o.evaluations < 200
    state = o.state()
    assert state["evaluations"] == o.evaluations  # it returns at the boundary
    assert Js[-1] >= min(Js[:-1])  # the step found no lower J
    # Without it, the same loop spends its whole budget; from the stalled state, on an objective
    # without the rounding (float32's, in nst.core.scales), the rest of it, and a lower J.
    whole = minimize(Floored(), torch.full((1, 3, 16, 16), 0.5), 200)
    assert whole.evaluations == 200 and not whole.stalled
    exact = Quartic()
    at_stall = exact(o.best).J
    rest = minimize(Quartic(), o.best, 200 - o.evaluations, state=for_another_objective(state))
    assert rest.evaluations == 200 - o.evaluations and exact(rest.best).J < at_stall
    # Adam has no line search to stall in: the option does nothing there.
    adam = minimize(Floored(), torch.full((1, 3, 16, 16), 0.5), 30, optimizer="adam", lr=0.05, until_stall=True)
    assert adam.evaluations == 30 and not adam.stalled


@pytest.fixture
def stalls(monkeypatch):
    """Precision 'auto' choosing bfloat16 on any CPU, and a bfloat16 objective whose J is rounded
    to two significant digits (so that it stalls within a few evaluations at 32 px); the dtype of
    the network each time an objective is made, in the list returned."""
    monkeypatch.setattr(network, "resolve_precision", lambda name, device: torch.bfloat16)
    made = []
    objective = network.Network.objective

    def rounded(self, *a, **k):
        made.append(self.dtype)
        f = objective(self, *a, **k)
        if self.dtype != torch.bfloat16:
            return f

        def J(G):
            ev = f(G)
            r = float(f"{ev.J:.2g}")
            return Evaluation(r, ev.J_content, ev.J_style, ev.style_layers, ev.J_tv, ev.J_temporal, ev.grad)
        return J
    monkeypatch.setattr(network.Network, "objective", rounded)
    return made


def batch(pair, out, cfg, stop_after=None):
    its = []
    stop = None if stop_after is None else (lambda: len(its) >= stop_after)
    [r] = run_batch([Job(pair[0], ((pair[1], 1.0),), out)], cfg, should_stop=stop,
                    on_iterate=lambda job, it: its.append(it))
    return r, its


def took_over(path):
    from nst.jobs import provenance
    return provenance.read(path)["precision"]["float32_from"]


def test_a_stalled_bfloat16_run_goes_on_in_float32(tmp_path, pair, stalls):
    cfg = Config(device="cpu", size=32, iterations=60, scales=1)
    r, its = batch(pair, tmp_path / "out.png", cfg)
    assert r.status == "done"
    assert stalls == [torch.bfloat16, torch.float32]
    assert [it.i for it in its] == list(range(1, 61))  # counted once each, to the budget
    at = took_over(tmp_path / "out.png")
    assert 1 <= at < 60
    # The float32 evaluations are the ones with unrounded J (the bfloat16 ones are rounded).
    assert all(float(f"{it.J:.2g}") == it.J for it in its[:at])
    assert any(float(f"{it.J:.2g}") != it.J for it in its[at:])


def test_without_a_stall_the_run_stays_in_bfloat16(tmp_path, pair, monkeypatch):
    monkeypatch.setattr(network, "resolve_precision", lambda name, device: torch.bfloat16)
    made = []
    objective = network.Network.objective
    monkeypatch.setattr(network.Network, "objective", lambda self, *a, **k: made.append(self.dtype)
                        or objective(self, *a, **k))
    batch(pair, tmp_path / "out.png", Config(device="cpu", size=32, iterations=6, scales=1))
    assert made == [torch.bfloat16]
    assert took_over(tmp_path / "out.png") is None


def test_an_asked_for_bfloat16_stays_bfloat16_through_a_stall(tmp_path, pair, stalls):
    r, its = batch(pair, tmp_path / "out.png", Config(device="cpu", size=32, iterations=60, scales=1,
                                                       precision="bfloat16"))
    assert r.status == "done" and stalls == [torch.bfloat16] and len(its) == 60


def test_resume_is_bit_exact_across_the_handover(tmp_path, pair, stalls):
    """Stopped before, at and after the handover, the resumed run writes the pixels of an
    uninterrupted one, and says the same evaluation of the handover."""
    cfg = Config(device="cpu", size=32, iterations=60, scales=1)
    batch(pair, tmp_path / "whole.png", cfg)
    whole = np.asarray(Image.open(tmp_path / "whole.png"))
    at = took_over(tmp_path / "whole.png")
    for k in sorted({max(1, at - 2), at, at + 1, at + 4}):
        out = tmp_path / f"out{k}.png"
        r, _ = batch(pair, out, cfg, stop_after=k)
        assert r.status == "interrupted"
        r2, its = batch(pair, out, cfg)
        assert r2.status == "done" and r2.resumed_from == r.evaluations
        assert [it.i for it in its] == list(range(r.evaluations + 1, 61))
        assert np.array_equal(np.asarray(Image.open(out)), whole), f"stopped at evaluation {k}"
        assert took_over(out) == at, f"stopped at evaluation {k}"


def test_the_output_says_how_it_was_made(tmp_path, pair, stalls):
    from nst.jobs import provenance
    batch(pair, tmp_path / "out.png", Config(device="cpu", size=32, iterations=LONG_RUN))
    rec = provenance.read(tmp_path / "out.png")
    assert rec["settings"]["init"] == "content"  # what 'auto' meant for a long run
    assert rec["settings"]["precision"] == "auto"  # what repeats it
    assert rec["precision"]["network"] == "bfloat16" and isinstance(rec["precision"]["float32_from"], int)
    batch(pair, tmp_path / "short.png", Config(device="cpu", size=32, iterations=4, precision="bfloat16"))
    rec = provenance.read(tmp_path / "short.png")
    assert rec["settings"]["init"] == "adain" and rec["settings"]["precision"] == "bfloat16"
    assert "precision" not in rec
