"""#21: claims. Workers sharing an output folder never work on one output at the same time: a job
claims its output (OUT.claim, created exclusively, refreshed while it runs, removed when it ends);
a live worker's claim leaves the output to it, a stale one (its worker killed) is taken over by
exactly one worker."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import main
from nst.core import stylizer as transfer
from nst.core.config import Config
from nst.jobs import claims
from nst.jobs.batch import plan, run_batch
from nst.jobs.runner import run_jobs

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def no_claims(folder: Path) -> list[Path]:
    """Every claim file (or one moved aside) left in ``folder``."""
    return sorted(p for p in folder.rglob("*") if ".claim" in p.name)


def someone_elses_claim(output: Path, age: float = 0.0, host: str = "elsewhere", pid: int = 4242) -> Path:
    """A claim of ``output`` by another worker, last refreshed ``age`` seconds ago."""
    path = claims.claim_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = time.time() - age
    path.write_text(json.dumps({"host": host, "pid": pid, "started": t - 60, "heartbeat": t}))
    os.utime(path, (t, t))
    return path


# --- the claim itself ------------------------------------------------------------------------

def test_a_claim_is_created_exclusively_and_removed_on_release(tmp_path):
    out = tmp_path / "out.jpg"
    claim = claims.take(out)
    path = tmp_path / "out.jpg.claim"
    assert claim.path == path and path.exists()
    data = json.loads(path.read_text())
    assert data["pid"] == os.getpid() and data["host"] and data["started"] <= data["heartbeat"] + 1
    with pytest.raises(claims.Claimed) as e:  # the same output again: held by a live worker (this one)
        claims.take(out)
    assert e.value.holder.pid == os.getpid() and e.value.holder.fresh()
    assert re.fullmatch(rf"{re.escape(str(out))}: claimed by .+:{os.getpid()} since \d\d:\d\d", str(e.value))
    assert claims.holder(out).pid == os.getpid()
    claim.release()
    claim.release()  # idempotent
    assert not path.exists() and claims.holder(out) is None
    with claims.take(out) as again:  # free again
        assert again.held
    assert not path.exists()


def test_a_tagged_claim_is_another_file(tmp_path):
    out = tmp_path / "clip.mp4"
    with claims.take(out, "shard-0-of-2") as a, claims.take(out, "shard-1-of-2") as b:
        assert a.path.name == "clip.mp4.shard-0-of-2.claim" and b.path.name == "clip.mp4.shard-1-of-2.claim"
        with pytest.raises(claims.Claimed):
            claims.take(out, "shard-0-of-2")
    assert no_claims(tmp_path) == []


def test_an_unreadable_claim_still_counts_by_its_time(tmp_path):
    out = tmp_path / "o.png"
    claims.claim_path(out).write_text("")  # a claim being written
    with pytest.raises(claims.Claimed) as e:
        claims.take(out)
    assert "an unknown worker" in str(e.value)


def test_the_heartbeat_keeps_a_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT", 0.05)
    out = tmp_path / "o.png"
    with claims.take(out) as claim:
        old = time.time() - 1000
        os.utime(claim.path, (old, old))
        time.sleep(0.5)
        st = os.stat(claim.path)
        assert time.time() - st.st_mtime < 5
        assert json.loads(claim.path.read_text())["heartbeat"] > old + 900
        monkeypatch.setattr(claims, "STALE", 0.3)  # several heartbeats: a live worker's claim is never stale
        time.sleep(0.6)
        with pytest.raises(claims.Claimed):
            claims.take(out)
    assert not claims.claim_path(out).exists()


def test_a_lost_claim_is_not_removed_by_its_old_holder(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT", 0.05)
    out = tmp_path / "o.png"
    claim = claims.take(out)
    os.unlink(claim.path)
    other = someone_elses_claim(out)  # taken over while this process did not refresh it
    time.sleep(0.3)
    assert claim.lost and not claim.held
    claim.release()
    assert other.exists() and json.loads(other.read_text())["host"] == "elsewhere"


def test_a_stale_claim_is_taken_over(tmp_path):
    out = tmp_path / "o.png"
    someone_elses_claim(out, age=claims.STALE + 60)
    assert claims.holder(out) is None and not claims.read(claims.claim_path(out)).fresh()
    with claims.take(out) as claim:
        assert json.loads(claim.path.read_text())["pid"] == os.getpid()
    assert no_claims(tmp_path) == []


def test_the_claim_of_an_ended_process_of_this_machine_is_taken_over_at_once(tmp_path):
    # e.g. a worker killed and requeued on the same node: no waiting for its claim to go stale
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "o.png"
    someone_elses_claim(out, host=socket.gethostname(), pid=int(ended.stdout))
    found = claims.read(claims.claim_path(out))
    assert found.gone and not found.fresh() and found.age() < claims.STALE
    with claims.take(out) as claim:
        assert json.loads(claim.path.read_text())["pid"] == os.getpid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        someone_elses_claim(out, host=socket.gethostname(), pid=live.pid)
        with pytest.raises(claims.Claimed):
            claims.take(out)
    finally:
        live.kill()
        live.wait()


# --- races between processes -----------------------------------------------------------------

RACER = """
import os, sys, time
from pathlib import Path
from nst.jobs import claims
out, go, hold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    claim = claims.take(out)
except claims.Claimed as e:
    print("claimed", e.holder.pid, flush=True)
    sys.exit(0)
print("won", os.getpid(), flush=True)
time.sleep(hold)
claim.release()
"""


def race(tmp_path: Path, out: Path, racers: int, hold: float = 2.0) -> list[list[str]]:
    """``racers`` processes take the claim of ``out`` at once; the winner holds it ``hold`` seconds."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(out), str(go), str(hold)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(racers)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    said = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return said


def test_of_processes_racing_for_one_output_exactly_one_wins(tmp_path):
    out = tmp_path / "o.png"
    for _ in range(3):
        said = race(tmp_path, out, racers=3)
        winners = [s for s in said if s[0] == "won"]
        assert len(winners) == 1, said
        assert all(s == ["claimed", winners[0][1]] for s in said if s[0] != "won"), said  # and who holds it
        assert no_claims(tmp_path) == []


def test_a_stale_claim_is_taken_over_by_exactly_one_of_the_racers(tmp_path):
    out = tmp_path / "o.png"
    for _ in range(3):
        someone_elses_claim(out, age=claims.STALE + 60, pid=1)
        said = race(tmp_path, out, racers=3)
        winners = [s for s in said if s[0] == "won"]
        assert len(winners) == 1, said
        assert all(s == ["claimed", winners[0][1]] for s in said if s[0] != "won"), said
        assert no_claims(tmp_path) == [], "the stale claim moved aside is removed too"


# --- the runner: claim, skip again, release however the job ends -------------------------------

def fake_run(tmp_path, *, skip_existing=True, claim_first=None):
    """run_jobs over two outputs with a fake network; ``claim_first(job)`` runs before a job's claim."""
    jobs = [tmp_path / "a.png", tmp_path / "b.png"]
    worked = []

    def claim(job):
        if claim_first is not None:
            claim_first(job)
        return claims.take(job)

    def work(job, prepared, stylizer, start):
        assert claims.holder(job).pid == os.getpid(), "claimed while it works"
        worked.append(job)
        job.write_bytes(b"done")
        return SimpleNamespace(job=job, status="done")

    def result(job, status, **kw):
        return SimpleNamespace(job=job, status=status, **kw)

    skip = (lambda job: job.exists()) if skip_existing else None
    results = list(run_jobs(jobs, SimpleNamespace(stylizer=None), result, prepare=lambda job: None, work=work,
                            skip=skip, claim=claim))
    return results, worked


def test_an_output_written_by_the_claims_last_holder_is_skipped_not_redone(tmp_path):
    # The output was not there when this worker looked, but its last holder wrote it before this
    # worker took the claim: with --skip-existing it is skipped, not redone.
    def finished_meanwhile(job):
        if job.name == "a.png":
            job.write_bytes(b"by the other worker")

    results, worked = fake_run(tmp_path, claim_first=finished_meanwhile)
    assert [r.status for r in results] == ["skipped", "done"] and worked == [tmp_path / "b.png"]
    assert (tmp_path / "a.png").read_bytes() == b"by the other worker"
    assert no_claims(tmp_path) == []


def test_a_claimed_output_is_left_to_its_worker(tmp_path):
    someone_elses_claim(tmp_path / "a.png")
    results, worked = fake_run(tmp_path)
    assert [r.status for r in results] == ["claimed", "done"] and worked == [tmp_path / "b.png"]
    assert results[0].claimed_by.host == "elsewhere" and results[0].claimed_by.pid == 4242
    assert not (tmp_path / "a.png").exists() and claims.claim_path(tmp_path / "a.png").exists()


@pytest.fixture
def one_job(tmp_path):
    make_content().save(tmp_path / "c.png")
    make_style().save(tmp_path / "s.png")
    return plan([tmp_path / "c.png"], [tmp_path / "s.png"], tmp_path / "out.jpg").jobs


CFG = Config(size=32, iterations=3, device="cpu", scales=1)


def test_the_claim_is_held_while_a_job_runs_and_removed_when_it_is_done(tmp_path, one_job):
    seen = []
    [r] = run_batch(one_job, CFG, on_iterate=lambda job, it: seen.append(claims.holder(job.output)))
    assert r.status == "done" and seen and all(h is not None and h.pid == os.getpid() for h in seen)
    assert no_claims(tmp_path) == []


def test_the_claim_is_removed_when_a_job_fails(tmp_path, one_job, monkeypatch):
    (tmp_path / "bad.png").write_text("not an image")  # fails in prepare
    bad = plan([tmp_path / "bad.png"], [tmp_path / "s.png"], tmp_path / "bad_out.jpg").jobs
    [r] = run_batch(bad, CFG)
    assert r.status == "failed" and no_claims(tmp_path) == []

    def broken(self, *args, **kwargs):  # fails in its work
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(transfer.Stylizer, "run", broken)
    [r] = run_batch(one_job, CFG)
    assert r.status == "failed" and "out of memory" in r.error and no_claims(tmp_path) == []


def test_the_claim_is_removed_when_a_job_is_interrupted(tmp_path, one_job):
    stop = []
    [r] = run_batch(one_job, CFG, on_iterate=lambda job, it: stop.append(1), should_stop=lambda: bool(stop))
    assert r.status == "interrupted" and no_claims(tmp_path) == []


def test_the_claim_is_removed_when_a_job_is_stopped_at_once(tmp_path, one_job, monkeypatch):
    def stopped_now(self, *args, **kwargs):  # a second Ctrl-C: KeyboardInterrupt out of the run
        raise KeyboardInterrupt

    monkeypatch.setattr(transfer.Stylizer, "run", stopped_now)
    with pytest.raises(KeyboardInterrupt):
        list(run_batch(one_job, CFG))
    assert no_claims(tmp_path) == []


def test_run_batch_without_claims(tmp_path, one_job):
    someone_elses_claim(one_job[0].output)
    [r] = run_batch(one_job, CFG, claim=False)
    assert r.status == "done"


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "b", "c"):
        make_content().save(folder / f"{name}.png")
    make_style().save(tmp_path / "zebra.png")
    return folder


def test_a_batch_leaves_an_output_claimed_by_a_live_worker_to_it(tmp_path, photos):
    out = tmp_path / "out"
    theirs = someone_elses_claim(out / "b_zebra.jpg", age=10)
    r = invoke(photos, tmp_path / "zebra.png", "-o", out, *FAST, "--json")
    assert r.exit_code == 0, r.output  # a claimed output is not a failure
    assert re.search(rf"nst: \[2/3\] {re.escape(str(out / 'b_zebra.jpg'))}: claimed by elsewhere:4242 since "
                     r"\d\d:\d\d, left to it", r.stderr), r.stderr
    assert "nst: 2 done, 0 skipped, 0 failed, 1 claimed by other workers in" in r.stderr
    records = {Path(x["output"]).name: x for x in map(json.loads, r.stdout.splitlines())}
    assert {k: x["status"] for k, x in records.items()} == \
        {"a_zebra.jpg": "done", "b_zebra.jpg": "claimed", "c_zebra.jpg": "done"}
    assert records["b_zebra.jpg"]["claimed_by"]["host"] == "elsewhere" and records["a_zebra.jpg"]["claimed_by"] is None
    assert sorted(p.name for p in out.iterdir()) == ["a_zebra.jpg", "b_zebra.jpg.claim", "c_zebra.jpg"]
    assert theirs.exists(), "another worker's claim is left alone"


def test_a_batch_takes_over_a_stale_claim(tmp_path, photos):
    out = tmp_path / "out"
    someone_elses_claim(out / "b_zebra.jpg", age=claims.STALE + 60)
    r = invoke(photos / "b.png", tmp_path / "zebra.png", "-o", f"{out}/", *FAST)
    assert r.exit_code == 0, r.output
    assert "claimed" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["b_zebra.jpg"]


def test_a_single_image_claimed_by_a_live_worker(tmp_path, photos):
    out = tmp_path / "one.jpg"
    someone_elses_claim(out)
    r = invoke(photos / "a.png", tmp_path / "zebra.png", "-o", out, *FAST)
    assert r.exit_code == 0 and not out.exists()
    assert f"nst: {out}: claimed by elsewhere:4242 since" in r.stderr


def test_a_clip_shard_claimed_by_a_live_worker(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(2):
        make_content().save(frames / f"f{t}.png")
    make_style().save(tmp_path / "zebra.png")
    out = tmp_path / "styled"
    theirs = claims.claim_path(out, "shard-0-of-2")
    theirs.write_text(json.dumps({"host": "elsewhere", "pid": 7, "started": time.time()}))
    r = invoke(frames, tmp_path / "zebra.png", "-o", out, "--sequence", "--shard", "0/2", *FAST, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "claimed"
    assert f"{out}: claimed by elsewhere:7 since" in r.stderr
    assert no_claims(tmp_path) == [theirs]
    with claims.take(out, "shard-1-of-2"):  # another shard's claim is another file
        pass
