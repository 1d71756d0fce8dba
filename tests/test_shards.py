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


def test_slurm_without_count_computes_it_for_a_stepped_array_only():
    assert pairs("auto", [slurm(t, 1, 7, 3, count="") for t in (1, 4, 7)]) == [(0, 3), (1, 3), (2, 3)]
    # STEP 1 without COUNT: 1-8 and a sparse 1,2,8 look the same (Slurm says step 1 of both)
    line = refused("auto", slurm(1, 1, 8, count=""))
    assert "SLURM_ARRAY_TASK_COUNT is not set (an old Slurm), so a contiguous array cannot be told from a sparse " \
           "one" in line and line.endswith("give --shard auto/N with N the array's task count")
    assert pairs("auto/8", [slurm(t, 1, 8, count="") for t in (1, 8)]) == [(0, 8), (7, 8)]


def test_slurm_without_the_array_range():
    line = refused("auto", {"SLURM_ARRAY_TASK_ID": "3"})
    assert "SLURM_ARRAY_TASK_MIN is not set" in line and "--shard auto/N" in line


# --shard auto/N: the index minus a base.

def test_auto_n_slurm_a_part_of_the_array_needs_nst_shard_base():
    # resubmitting tasks 3 and 5 of --array=1-8 as --array=3,5 with auto/8 and NST_SHARD_BASE=1: shards 2/8, 4/8
    part = [slurm(3, 3, 5, 2), slurm(5, 3, 5, 2)]
    assert pairs("auto/8", [{**env, "NST_SHARD_BASE": "1"} for env in part]) == [(2, 8), (4, 8)]
    assert resolve("auto/8", {**part[0], "NST_SHARD_BASE": "1"}).source == \
        "SLURM_ARRAY_TASK_ID=3 counted from 1 (NST_SHARD_BASE=1; array 3,5)"
    line = refused("auto/8", part[0])  # without it: a part of 1-8 and a part of 0-7 look the same
    assert line == ("--shard auto/8: SLURM_ARRAY_TASK_ID=3 is a task of the array 3,5, whose IDs are shards of "
                    "0..7 (N=8) counted from 0 (3..5) and counted from 1 (2..4) alike; set NST_SHARD_BASE=1 if the "
                    "original array counted from 1 (1-8), NST_SHARD_BASE=0 if from 0 (0-7)")
    # a part that holds the first or the last ID tells by itself
    assert pairs("auto/8", [slurm(t, 3, 8, 5) for t in (3, 8)]) == [(2, 8), (7, 8)]
    assert pairs("auto/8", [slurm(t, 0, 5, 5) for t in (0, 5)]) == [(0, 8), (5, 8)]
    # without the array's range, nothing says the base
    line = refused("auto/8", {"SLURM_ARRAY_TASK_ID": "1"})
    assert "SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX are not set" in line and "set NST_SHARD_BASE=0 or" in line
    assert pairs("auto/8", [{"SLURM_ARRAY_TASK_ID": t, "NST_SHARD_BASE": "1"} for t in "18"]) == [(0, 8), (7, 8)]


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
    line = refused("auto/8", {"SLURM_ARRAY_TASK_ID": "9", "NST_SHARD_BASE": "1"})
    assert "SLURM_ARRAY_TASK_ID=9 counted from 1 (NST_SHARD_BASE=1) is shard 8, not one of 0..7 (N=8)" in line
    line = refused("auto/8", slurm(9, 1, 9))  # nine tasks, eight shards
    assert "is a task of the array 1-9, whose IDs counted from 0 or from 1 are not all shards of 0..7 (N=8)" in line
    line = refused("auto/4", {"JOB_COMPLETION_INDEX": "4"})
    assert "JOB_COMPLETION_INDEX=4 counted from 0 is shard 4, not one of 0..3 (N=4)" in line


# Every layout that Slurm gives (#30.1): all the tasks of one array run, each its own shard, or all refuse.

def array(spec, step=True, count=True):
    """Each task's variables under ``sbatch --array=SPEC`` ('0-3', '1-7:2', '3,5'): MIN and MAX its lowest and
    highest IDs, COUNT their number, STEP their spacing where it is even and 1 where it is not (as measured for
    2,5,9); step=False: STEP not set; count=False: COUNT not set (an old Slurm)."""
    ids = []
    for part in spec.split(","):
        span, _, every = part.partition(":")
        low, _, high = span.partition("-")
        ids += range(int(low), int(high or low) + 1, int(every or 1))
    gaps = {b - a for a, b in zip(ids, ids[1:])}
    env = {"SLURM_ARRAY_TASK_MIN": min(ids), "SLURM_ARRAY_TASK_MAX": max(ids)}
    if step:
        env["SLURM_ARRAY_TASK_STEP"] = gaps.pop() if len(gaps) == 1 else 1
    if count:
        env["SLURM_ARRAY_TASK_COUNT"] = len(ids)
    return [{k: str(v) for k, v in {**env, "SLURM_ARRAY_TASK_ID": i}.items()} for i in ids]


def run_array(spec, tasks, **extra):
    """What the tasks of one array do: the shards (k, n) they make, or the lines they refuse with; never a mix."""
    made, lines = [], []
    for env in tasks:
        try:
            shard = resolve(spec, {**env, **extra})
            made.append((shard.k, shard.n))
        except InputError as e:
            lines.append(say(e))
    assert not (made and lines), f"some tasks run {made} and others refuse: {lines}"
    assert all("\n" not in line for line in lines)
    return made or lines


def expected(spec, shards, n=None):
    return None if shards is None else [(k, n or int(spec.split("/")[1])) for k in shards]


# auto/N: (--array, N, NST_SHARD_BASE or None, the shards made, each exactly once; None: every task refuses)
COUNTED = [
    ("0-3", 4, None, [0, 1, 2, 3]),   # #30.1: task 0 refused, tasks 1-3 did shards 0-2, and 3 was never made
    ("1-4", 4, None, [0, 1, 2, 3]),
    ("0-7", 8, None, list(range(8))),
    ("1-8", 8, None, list(range(8))),
    ("0-3", 8, None, [0, 1, 2, 3]),   # a part of 0-7 that holds 0: counted from 0
    ("1-7:2", 4, None, None),         # IDs 1..7 are not shards of 4, counted from 0 or from 1
    ("1-7:2", 7, None, [0, 2, 4, 6]),  # MAX = N: counted from 1
    ("1-7:2", 8, None, None),         # a part of 0-7 or of 1-8: cannot tell
    ("1-7:2", 8, "1", [0, 2, 4, 6]),
    ("1-7:2", 8, "0", [1, 3, 5, 7]),
    ("3,5", 8, None, None),           # failed tasks of 1-8 or of 0-7 resubmitted: cannot tell
    ("3,5", 8, "1", [2, 4]),          # ... of 1-8
    ("3,5", 8, "0", [3, 5]),          # ... of 0-7
    ("3,8", 8, None, [2, 7]),         # holds the last ID of 1-8
    ("0,5", 8, None, [0, 5]),         # holds the first ID of 0-7
    ("2,5,9", 10, None, None),        # sparse, a part of 0-9 or of 1-10
    ("2,5,9", 9, None, [1, 4, 8]),    # MAX = N: counted from 1
    ("0-3", 4, "1", None),            # NST_SHARD_BASE=1 on an array from 0: shard -1 for task 0
    ("1-4", 4, "0", None),            # NST_SHARD_BASE=0 on an array to N: shard 4 for task 4
    ("0-8", 8, None, None),           # nine tasks, eight shards
]


@pytest.mark.parametrize("step", [True, False], ids=["STEP", "no-STEP"])
@pytest.mark.parametrize("count", [True, False], ids=["COUNT", "no-COUNT"])
@pytest.mark.parametrize("layout, n, base, shards", COUNTED, ids=[f"{a} auto/{n} base={b}" for a, n, b, _ in COUNTED])
def test_auto_n_every_task_of_an_array_runs_its_own_shard_or_all_refuse(layout, n, base, shards, step, count):
    tasks = array(layout, step=step, count=count)
    result = run_array(f"auto/{n}", tasks, **({} if base is None else {"NST_SHARD_BASE": base}))
    if shards is None:
        assert all(line.startswith(f"--shard auto/{n}: SLURM_ARRAY_TASK_ID=") for line in result), result
    else:
        assert sorted(result) == expected(f"auto/{n}", shards) and len(set(result)) == len(tasks), result


# auto: (--array, STEP set, COUNT set, the shards 0..N-1 made with N the array's task count; None: all refuse)
NUMBERED = [
    ("0-3", True, True, 4), ("1-4", True, True, 4), ("1-7:2", True, True, 4), ("3,5", True, True, 2),
    ("3-4", True, True, 2), ("5", True, True, 1), ("2,5,9", True, True, None),
    ("0-3", False, True, 4),          # COUNT = MAX - MIN + 1: contiguous
    ("3,5", False, True, 2),          # COUNT 2: MIN and MAX
    ("1-7:2", False, True, None),     # 1,3,5,7 or 1,2,3,7: cannot tell without STEP
    ("1-7:2", True, False, 4),        # STEP 2: evenly spaced
    ("3,5", True, False, 2),
    ("0-3", True, False, None),       # STEP 1 without COUNT: 0-3 or 0,1,3 alike
    ("2,5,9", True, False, None),
    ("0-3", False, False, None), ("5", False, False, 1),
]


@pytest.mark.parametrize("layout, step, count, n", NUMBERED, ids=[f"{a} STEP={s} COUNT={c}" for a, s, c, _ in NUMBERED])
def test_auto_every_task_of_an_array_runs_its_own_shard_or_all_refuse(layout, step, count, n):
    result = run_array("auto", array(layout, step=step, count=count))
    if n is None:
        assert all(line.startswith("--shard auto: SLURM_ARRAY_TASK_ID=") and "--shard auto/N" in line
                   for line in result), result
    else:
        assert result == [(k, n) for k in range(n)]


def test_ids_and_counts_no_array_has_say_what_they_are():
    assert refused("auto", slurm(9, 1, 4)) == ("--shard auto: SLURM_ARRAY_TASK_ID=9 is outside its array, whose task "
                                               "IDs go from SLURM_ARRAY_TASK_MIN=1 to SLURM_ARRAY_TASK_MAX=4")
    assert "SLURM_ARRAY_TASK_ID=9 is outside its array" in refused("auto/4", slurm(9, 1, 4))
    for spec in ("auto", "auto/4"):
        line = refused(spec, slurm(-1, 1, 4))
        assert line == f"--shard {spec}: SLURM_ARRAY_TASK_ID=-1 is negative; a Slurm array's task IDs are 0 or more"
        line = refused(spec, slurm(2, 1, 4, 1, 5))
        assert line == (f"--shard {spec}: SLURM_ARRAY_TASK_COUNT=5 disagrees with SLURM_ARRAY_TASK_MIN=1 and "
                        "SLURM_ARRAY_TASK_MAX=4, an array of 2 to 4 tasks")
        assert "SLURM_ARRAY_TASK_COUNT=2 disagrees" in refused(spec, slurm(3, 3, 3, 1, 2))
        assert "SLURM_ARRAY_TASK_COUNT=1 disagrees" in refused(spec, slurm(3, 3, 4, 1, 1))
        assert "SLURM_ARRAY_TASK_COUNT=0 disagrees" in refused(spec, slurm(3, 3, 4, 1, 0))
        assert "SLURM_ARRAY_TASK_MIN=5 and SLURM_ARRAY_TASK_MAX=4 are not the first and last" in \
            refused(spec, slurm(4, 5, 4, 1, 1))
    assert refused("auto", slurm(4, 1, 7, 2, 4)) == \
        "--shard auto: SLURM_ARRAY_TASK_ID=4 is not a task of its array 1-7:2"
    line = refused("auto", slurm(1, 1, 8, 3, 3))
    assert line.endswith("SLURM_ARRAY_TASK_STEP=3 and SLURM_ARRAY_TASK_COUNT=3 disagree with SLURM_ARRAY_TASK_MIN=1 "
                         "and SLURM_ARRAY_TASK_MAX=8: a step of 3 from 1 does not end at 8")
    assert "a step of 2 from 1 to 7 makes 4 tasks" in refused("auto", slurm(1, 1, 7, 2, 3))
    assert "SLURM_ARRAY_TASK_STEP=0 is not a step" in refused("auto", slurm(1, 1, 7, 0, 3))
    for line in (refused("auto", slurm(9, 1, 4)), refused("auto", slurm(-1, 1, 4)),
                 refused("auto", slurm(2, 1, 4, 1, 5))):
        assert "not contiguous or stepped" not in line


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


def test_an_array_from_0_with_auto_n_makes_every_output_once_through_the_cli(tmp_path):
    """#30.1: sbatch --array=0-3 with --shard auto/4: every task runs its own shard, and every output is made."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in "abcd":
        make_content().save(photos / f"{name}.png")
    make_style().save(tmp_path / "style.png")
    out = tmp_path / "out"
    made = []
    for env in array("0-3"):
        r = CliRunner().invoke(main, [str(photos), str(tmp_path / "style.png"), "-o", str(out), *FAST,
                                      "--shard", "auto/4", "--json"], env={**CLEAN, **env})
        task = env["SLURM_ARRAY_TASK_ID"]
        assert r.exit_code == 0, r.output
        assert f"nst: shard {task}/4 from SLURM_ARRAY_TASK_ID={task} counted from 0 (array 0-3)\n" in r.stderr
        made += [json.loads(line)["output"].rsplit("/", 1)[-1] for line in r.stdout.splitlines()]
    assert sorted(made) == [f"{name}_style.jpg" for name in "abcd"] == sorted(p.name for p in out.iterdir())


def test_a_part_of_an_array_that_cannot_tell_its_base_refuses_in_every_task(tmp_path, folder):
    photos, style = folder
    out = tmp_path / "out"
    for env in array("3,5"):  # resubmitted tasks of 1-8 or of 0-7?
        r = CliRunner().invoke(main, [str(photos), str(style), "-o", str(out), *FAST, "--shard", "auto/8"],
                               env={**CLEAN, **env})
        assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "counted from 0 (3..5) and counted from 1 (2..4) alike; set NST_SHARD_BASE=1" in r.stderr
    assert not out.exists()  # before any work
