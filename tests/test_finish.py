"""The defaults that depend on a run's length (#34): init 'auto' starts from the AdaIN picture for a
short run and from the content for a long one; precision 'auto' finishes a long run in float32
after bfloat16, from the same L-BFGS state, and such a run resumes bit for bit across the handover."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst.core import config, network
from nst.core.config import Config
from nst.jobs.batch import Job, run_batch


def test_init_auto_is_adain_for_short_runs_and_the_content_for_long_ones():
    assert Config().init == "auto"
    assert Config(iterations=config.LONG_RUN - 1).start == "adain"
    assert Config(iterations=config.LONG_RUN).start == "content"
    assert Config(iterations=0).start == "adain"  # the preview
    assert Config(iterations=500, init="adain").start == "adain"  # asked for: kept


def test_the_float32_finish_is_for_long_runs_with_precision_auto_only():
    assert Config(iterations=config.LONG_RUN - 1).float32_finish == 0
    assert Config(iterations=200).float32_finish == round(config.FLOAT32_FINISH * 200) == 60
    assert Config(iterations=200, precision="bfloat16").float32_finish == 0
    assert Config(iterations=200, precision="float32").float32_finish == 0


@pytest.fixture
def long_runs_from_10(monkeypatch):
    """A 'long' run from 10 evaluations, and precision 'auto' choosing bfloat16 on any CPU."""
    monkeypatch.setattr(config, "LONG_RUN", 10)
    monkeypatch.setattr(network, "resolve_precision", lambda name, device: torch.bfloat16)


def batch(pair, out, cfg, stop_after=None):
    its = []
    stop = None if stop_after is None else (lambda: len(its) >= stop_after)
    [r] = run_batch([Job(pair[0], ((pair[1], 1.0),), out)], cfg, should_stop=stop,
                    on_iterate=lambda job, it: its.append(it))
    return r, its


def test_a_long_run_hands_over_to_float32_for_its_last_evaluations(tmp_path, pair, long_runs_from_10, monkeypatch):
    made = []  # the network's dtype each time an objective is made
    objective = network.Network.objective
    monkeypatch.setattr(network.Network, "objective", lambda self, *a, **k: made.append(self.dtype)
                        or objective(self, *a, **k))
    cfg = Config(device="cpu", size=32, iterations=10)
    assert cfg.float32_finish == 3
    r, its = batch(pair, tmp_path / "out.png", cfg)
    assert r.status == "done"
    assert made == [torch.bfloat16, torch.float32]
    assert [it.i for it in its] == list(range(1, 11))  # counted once each, to the budget
    assert all(it.total == 10 for it in its)


def test_a_short_run_stays_in_bfloat16(tmp_path, pair, long_runs_from_10, monkeypatch):
    made = []
    objective = network.Network.objective
    monkeypatch.setattr(network.Network, "objective", lambda self, *a, **k: made.append(self.dtype)
                        or objective(self, *a, **k))
    batch(pair, tmp_path / "out.png", Config(device="cpu", size=32, iterations=9))
    assert made == [torch.bfloat16]


def test_resume_is_bit_exact_across_the_handover(tmp_path, pair, long_runs_from_10):
    """Stopped before, at and after the handover (after evaluation 7 of 10), the resumed run
    writes the pixels of an uninterrupted one."""
    cfg = Config(device="cpu", size=32, iterations=10)
    batch(pair, tmp_path / "whole.png", cfg)
    whole = np.asarray(Image.open(tmp_path / "whole.png"))
    for k in (6, 7, 8, 9):
        out = tmp_path / f"out{k}.png"
        r, _ = batch(pair, out, cfg, stop_after=k)
        assert r.status == "interrupted"
        r2, its = batch(pair, out, cfg)
        assert r2.status == "done" and r2.resumed_from == r.evaluations
        assert [it.i for it in its] == list(range(r.evaluations + 1, 11))
        assert np.array_equal(np.asarray(Image.open(out)), whole), f"stopped at evaluation {k}"


def test_the_output_says_how_it_was_made(tmp_path, pair, long_runs_from_10):
    from nst.jobs import provenance
    batch(pair, tmp_path / "out.png", Config(device="cpu", size=32, iterations=10))
    rec = provenance.read(tmp_path / "out.png")
    assert rec["settings"]["init"] == "content"  # what 'auto' meant for a long run
    assert rec["settings"]["precision"] == "auto"  # what repeats it
    assert rec["precision"] == {"network": "bfloat16", "float32_finish": 3}
    batch(pair, tmp_path / "short.png", Config(device="cpu", size=32, iterations=4))
    rec = provenance.read(tmp_path / "short.png")
    assert rec["settings"]["init"] == "adain" and rec["settings"]["precision"] == "bfloat16"
    assert "precision" not in rec
