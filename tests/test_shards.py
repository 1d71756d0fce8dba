"""--shard auto and auto/N: K and N from a cluster's environment (nst.jobs.shards), as pure functions
of a dict environment, and through the command line."""

import json

import pytest
from click.testing import CliRunner
from conftest import make_content, make_style

from nst.cli import main
from nst.cli.words import say
from nst.errors import InputError
from nst.jobs.shards import Auto, Shard, parse, resolve

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu"]


def slurm(task, low, high, step=1, count=None):
    """A Slurm array task's variables; count None: Slurm's (the array's tasks), "": not set (old Slurm)."""
    env = {"SLURM_ARRAY_TASK_ID": task, "SLURM_ARRAY_TASK_MIN": low, "SLURM_ARRAY_TASK_MAX": high,
           "SLURM_ARRAY_TASK_STEP": step}
    if count != "":
        env["SLURM_ARRAY_TASK_COUNT"] = (high - low) // step + 1 if count is None else count
    return {k: str(v) for k, v in env.items()}


def pairs(spec, envs):
    return [(s.k, s.n) for s in (resolve(spec, env) for env in envs)]


def refused(spec, env) -> str:
    """The one line a refusal says on the command line (its settings as flags)."""
    with pytest.raises(InputError) as e:
        resolve(spec, env)
    line = say(e.value)
    assert "\n" not in str(e.value) and line.startswith(f"--shard {spec}: ")
    return line


def test_parse():
    assert parse("2/8") == Shard(2, 8) and parse("auto") == Auto() and parse("auto/8") == Auto(8)
    assert str(Auto()) == "auto" and str(Auto(8)) == "auto/8"
    for bad in ("auto/0", "auto/x", "auto/", "8/8", "x", "auto8"):
        with pytest.raises(InputError, match="not allowed"):
            parse(bad)


def test_explicit_k_of_n_is_unchanged_and_wins():
    assert resolve("2/8", slurm(1, 1, 4)) == Shard(2, 8, "")
    assert str(resolve("2/8", {})) == "shard 2/8"


# Slurm, --shard auto: a regular array's tasks numbered 0..N-1 in order.

def test_slurm_one_based_array():
    assert pairs("auto", [slurm(t, 1, 8) for t in range(1, 9)]) == [(k, 8) for k in range(8)]
    assert str(resolve("auto", slurm(3, 1, 8))) == "shard 2/8 from SLURM_ARRAY_TASK_ID=3 (array 1-8)"


def test_slurm_zero_based_array():
    assert pairs("auto", [slurm(t, 0, 3) for t in range(4)]) == [(k, 4) for k in range(4)]


def test_slurm_stepped_array():
    # --array=1-7:3: tasks 1, 4, 7
    assert pairs("auto", [slurm(t, 1, 7, 3) for t in (1, 4, 7)]) == [(0, 3), (1, 3), (2, 3)]
    assert resolve("auto", slurm(4, 1, 7, 3)).source == "SLURM_ARRAY_TASK_ID=4 (array 1-7:3)"


def test_slurm_array_of_one_task():
    assert resolve("auto", slurm(5, 5, 5)) == Shard(0, 1, "SLURM_ARRAY_TASK_ID=5 (array 5)")


def test_slurm_sparse_array_is_refused():
    # --array=2,5,9 (as measured: MIN=2, MAX=9, STEP=1, COUNT=3)
    line = refused("auto", slurm(5, 2, 9, 1, 3))
    assert "SLURM_ARRAY_TASK_ID=5" in line and "not contiguous or stepped" in line
    assert "give --shard auto/N with N the original array's task count" in line
    assert "or submit a contiguous or stepped array" in line


def test_slurm_resubmitted_contiguous_subset_splits_the_whole_list():
    # --array=3-4 of an original 1-8: an array of two tasks, which share the whole job list
    assert pairs("auto", [slurm(3, 3, 4), slurm(4, 3, 4)]) == [(0, 2), (1, 2)]


def test_slurm_without_count_computes_it():
    assert pairs("auto", [slurm(t, 1, 7, 3, count="") for t in (1, 4, 7)]) == [(0, 3), (1, 3), (2, 3)]
    assert pairs("auto", [slurm(t, 1, 8, count="") for t in (1, 8)]) == [(0, 8), (7, 8)]


def test_slurm_without_the_array_range():
    line = refused("auto", {"SLURM_ARRAY_TASK_ID": "3"})
    assert "SLURM_ARRAY_TASK_MIN is not set" in line and "--shard auto/N" in line


# --shard auto/N: the index minus a base.

def test_auto_n_slurm_counts_from_one():
    # resubmitting tasks 3 and 5 of --array=1-8 as --array=3,5 with auto/8: shards 2/8 and 4/8
    sparse = [slurm(3, 3, 5, 1, 2), slurm(5, 3, 5, 1, 2)]
    assert pairs("auto/8", sparse) == [(2, 8), (4, 8)]
    assert resolve("auto/8", sparse[0]).source == "SLURM_ARRAY_TASK_ID=3 counted from 1"
    assert pairs("auto/8", [{"SLURM_ARRAY_TASK_ID": "1"}, {"SLURM_ARRAY_TASK_ID": "8"}]) == [(0, 8), (7, 8)]
    # a regular array whose count differs from N (a part of the original): fine
    assert pairs("auto/8", [slurm(3, 3, 4)]) == [(2, 8)]


def test_auto_n_base_zero_for_kubernetes_aws_and_rank():
    assert pairs("auto/8", [{"JOB_COMPLETION_INDEX": "0"}, {"JOB_COMPLETION_INDEX": "7"}]) == [(0, 8), (7, 8)]
    assert resolve("auto/8", {"JOB_COMPLETION_INDEX": "2"}).source == "JOB_COMPLETION_INDEX=2 counted from 0"
    assert pairs("auto/4", [{"AWS_BATCH_JOB_ARRAY_INDEX": "3"}, {"RANK": "0"}]) == [(3, 4), (0, 4)]


def test_nst_shard_base_overrides_the_base_of_any_source():
    assert resolve("auto/8", {"SLURM_ARRAY_TASK_ID": "3", "NST_SHARD_BASE": "0"}) == \
        Shard(3, 8, "SLURM_ARRAY_TASK_ID=3 counted from 0 (NST_SHARD_BASE=0)")
    assert pairs("auto/8", [{"JOB_COMPLETION_INDEX": "1", "NST_SHARD_BASE": "1"}]) == [(0, 8)]
    line = refused("auto/8", {"SLURM_ARRAY_TASK_ID": "3", "NST_SHARD_BASE": "2"})
    assert "NST_SHARD_BASE='2' is not 0 or 1" in line


def test_auto_n_k_out_of_range():
    line = refused("auto/8", {"SLURM_ARRAY_TASK_ID": "9"})
    assert "SLURM_ARRAY_TASK_ID=9 counted from 1 is shard 8, not one of 0..7 (N=8)" in line
    line = refused("auto/8", {"SLURM_ARRAY_TASK_ID": "0"})  # --array=0-7 with the default base
    assert "SLURM_ARRAY_TASK_ID=0 counted from 1 is shard -1" in line and "NST_SHARD_BASE=0" in line
    line = refused("auto/4", {"JOB_COMPLETION_INDEX": "4"})
    assert "JOB_COMPLETION_INDEX=4 counted from 0 is shard 4, not one of 0..3 (N=4)" in line


def test_variables_that_are_not_integers():
    for env, named in [(slurm("3a", 1, 8, count=8), "SLURM_ARRAY_TASK_ID='3a'"),
                       (slurm(3, 1, "x", count=8), "SLURM_ARRAY_TASK_MAX='x'"),
                       ({"RANK": "0", "WORLD_SIZE": "four"}, "WORLD_SIZE='four'"),
                       ({"AWS_BATCH_JOB_ARRAY_INDEX": "1.0", "AWS_BATCH_JOB_ARRAY_SIZE": "4"},
                        "AWS_BATCH_JOB_ARRAY_INDEX='1.0'")]:
        assert refused("auto", env).endswith(f"{named} is not an integer")
    assert refused("auto/8", {"JOB_COMPLETION_INDEX": "two"}) == \
        "--shard auto/8: JOB_COMPLETION_INDEX='two' is not an integer"


def test_kubernetes_needs_n():
    line = refused("auto", {"JOB_COMPLETION_INDEX": "2"})
    assert "Kubernetes does not export" in line and "give --shard auto/N with N the Job's completions" in line


def test_aws_batch_with_and_without_its_size():
    env = {"AWS_BATCH_JOB_ARRAY_INDEX": "2", "AWS_BATCH_JOB_ARRAY_SIZE": "5"}
    assert resolve("auto", env) == Shard(2, 5, "AWS_BATCH_JOB_ARRAY_INDEX=2 of AWS_BATCH_JOB_ARRAY_SIZE=5")
    assert pairs("auto/5", [env]) == [(2, 5)]
    assert "AWS_BATCH_JOB_ARRAY_SIZE=5 says there are 5 tasks, not 4" in refused("auto/4", env)
    line = refused("auto", {"AWS_BATCH_JOB_ARRAY_INDEX": "2"})
    assert "AWS_BATCH_JOB_ARRAY_SIZE is not set; give --shard auto/N" in line
    assert pairs("auto/5", [{"AWS_BATCH_JOB_ARRAY_INDEX": "2"}]) == [(2, 5)]


def test_rank_and_world_size():
    assert pairs("auto", [{"RANK": str(r), "WORLD_SIZE": "3"} for r in range(3)]) == [(0, 3), (1, 3), (2, 3)]
    assert str(resolve("auto", {"RANK": "1", "WORLD_SIZE": "3"})) == "shard 1/3 from RANK=1 of WORLD_SIZE=3"
    assert "RANK=3 counted from 0 is not a shard of WORLD_SIZE=3 (0..2)" in \
        refused("auto", {"RANK": "3", "WORLD_SIZE": "3"})
    assert "WORLD_SIZE=3 says there are 3 tasks, not 4" in refused("auto/4", {"RANK": "1", "WORLD_SIZE": "3"})
    assert "WORLD_SIZE is not set" in refused("auto", {"RANK": "1"})


def test_no_variable():
    line = refused("auto", {"SLURM_JOB_ID": "12", "WORLD_SIZE": "4", "RANK": ""})  # empty: not set
    assert line == ("--shard auto: none of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX "
                    "or RANK is set in the environment; give --shard K/N")


def test_conflicting_variables_follow_the_order_and_the_line_names_the_source():
    everything = {**slurm(3, 1, 8), "JOB_COMPLETION_INDEX": "5", "AWS_BATCH_JOB_ARRAY_INDEX": "6",
                  "AWS_BATCH_JOB_ARRAY_SIZE": "8", "RANK": "7", "WORLD_SIZE": "8"}
    shard = resolve("auto", everything)
    assert (shard.k, shard.n) == (2, 8)
    assert str(shard) == ("shard 2/8 from SLURM_ARRAY_TASK_ID=3 (array 1-8); JOB_COMPLETION_INDEX=5, "
                          "AWS_BATCH_JOB_ARRAY_INDEX=6, RANK=7 also set, not used")
    del everything["SLURM_ARRAY_TASK_ID"]
    assert resolve("auto/8", everything).source.startswith("JOB_COMPLETION_INDEX=5 counted from 0;")
    del everything["JOB_COMPLETION_INDEX"]
    assert resolve("auto", everything).source.startswith("AWS_BATCH_JOB_ARRAY_INDEX=6 of")
    del everything["AWS_BATCH_JOB_ARRAY_INDEX"]
    assert resolve("auto", everything) == Shard(7, 8, "RANK=7 of WORLD_SIZE=8")


def test_resolve_reads_os_environ_by_default(monkeypatch):
    for name in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "NST_SHARD_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert resolve("auto") == Shard(1, 2, "RANK=1 of WORLD_SIZE=2")


# Through the command line.

CLEAN = {name: None for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                                 "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX",
                                 "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", "RANK", "WORLD_SIZE",
                                 "NST_SHARD_BASE")}


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "abc":
        make_content().save(photos / f"{name}.png")
    make_style().save(tmp_path / "style.png")
    return photos, tmp_path / "style.png"


def test_shard_auto_from_a_slurm_array_through_the_cli(tmp_path, folder):
    photos, style = folder
    out = tmp_path / "out"
    env = {**CLEAN, **slurm(2, 1, 2)}  # task 2 of --array=1-2: shard 1/2, the last two of three jobs
    r = CliRunner().invoke(main, [str(photos), str(style), "-o", str(out), *FAST, "--shard", "auto", "--json"],
                           env=env)
    assert r.exit_code == 0, r.output
    assert "nst: shard 1/2 from SLURM_ARRAY_TASK_ID=2 (array 1-2)\n" in r.stderr
    assert "(shard 1/2)" in r.stderr  # the summary line
    done = sorted(json.loads(line)["output"].rsplit("/", 1)[-1] for line in r.stdout.splitlines())
    assert done == ["b_style.jpg", "c_style.jpg"] == sorted(p.name for p in out.iterdir())
    quiet = CliRunner().invoke(main, [str(photos), str(style), "-o", str(out), *FAST, "--shard", "auto", "-q",
                                      "--skip-existing"], env=env)
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output


def test_shard_auto_without_variables_is_one_line_and_exit_2(tmp_path, folder):
    photos, style = folder
    r = CliRunner().invoke(main, [str(photos), str(style), "-o", str(tmp_path / "out"), *FAST, "--shard", "auto"],
                           env=CLEAN)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "--shard auto: none of SLURM_ARRAY_TASK_ID" in r.stderr, r.stderr
    assert "give --shard K/N" in r.stderr and not (tmp_path / "out").exists()
    frames = CliRunner().invoke(main, [str(photos), str(style), "-o", str(tmp_path / "out"), "--sequence",
                                       "--shard", "auto/4"], env={**CLEAN, "RANK": "1", "WORLD_SIZE": "2"})
    assert frames.exit_code == 2 and frames.stderr.count("\n") == 1, frames.stderr  # clips resolve it too
    assert "--shard auto/4: WORLD_SIZE=2 says there are 2 tasks, not 4" in frames.stderr
    bad = CliRunner().invoke(main, [str(photos), str(style), "-o", str(tmp_path / "out"), "--shard", "auto/0"])
    assert bad.exit_code == 2 and "expected auto/N with N >= 1" in bad.stderr
