"""Which shard of the job list this worker does: K/N as given, or K and N found in the environment
of a cluster's array job (``shard='auto'`` or ``'auto/N'``), with where they came from.

The sources, in this order (the first one set is used, and the others are named as not used):

- a Slurm array: ``SLURM_ARRAY_TASK_ID`` with ``SLURM_ARRAY_TASK_MIN``, ``_MAX``, ``_STEP`` and
  ``_COUNT``;
- a Kubernetes Indexed Job: ``JOB_COMPLETION_INDEX`` (Kubernetes does not export the count);
- an AWS Batch array job: ``AWS_BATCH_JOB_ARRAY_INDEX`` and ``AWS_BATCH_JOB_ARRAY_SIZE``;
- torchrun or another torch.distributed launcher: ``RANK`` and ``WORLD_SIZE``.

``auto``: for Slurm, a regular array (contiguous or stepped: ``1-8``, ``0-7``, ``1-7:3``; or two tasks,
such as ``3,5``) has its tasks numbered 0..N-1 in order, K = (ID - MIN) / STEP and N its task count; a
sparse one (``2,5,9``: COUNT less than MIN..MAX holds at STEP) is refused, as its tasks cannot be
numbered so (auto/N can), and so is an array whose tasks cannot be known to be evenly spaced:
without COUNT (an old Slurm) unless STEP is more than 1, without STEP unless COUNT is the whole
range or 2 (then the tasks are MIN and MAX). A resubmitted part of an array, say ``3-4`` of ``1-8``, is an array of its
own: its two tasks split the whole job list between them (outputs already made are skipped where
the run skips existing ones). For AWS and torchrun, K is the index and N the size; Kubernetes needs
auto/N.

``auto/N``: N as given, and K the index minus a base: 0 for Kubernetes, AWS and torchrun. For Slurm
the base is decided by the array, from MIN and MAX only (never the task's own ID), so that every
task of one array decides alike: they all run, each its own shard ID - base, or they all refuse:

- MIN is 0: base 0 (an ID 0 exists only in an array counted from 0), and MAX must be at most N-1;
- MAX is N: base 1 (an ID N exists only in an array counted from 1), and MIN must be at least 1;
- MIN >= 1 and MAX <= N-1 (a part of the original array, such as a resubmitted ``3,5`` of ``1-8`` or
  of ``0-7``): both bases fit and the environment cannot tell them apart, so every task refuses and
  asks for ``NST_SHARD_BASE``;
- neither fits (MAX - MIN > N - 1: more tasks than shards, e.g. ``1-7:2`` with auto/4): every task
  refuses.

``NST_SHARD_BASE`` (0 or 1) sets the base for any source; for Slurm it must still fit the whole
array. Without MIN and MAX (an old Slurm, or an ID set by hand) nothing says the base: Slurm then
needs ``NST_SHARD_BASE``. So resubmitting tasks 3 and 5 of ``1-8`` as an array ``3,5`` with auto/8 and
``NST_SHARD_BASE=1`` does shards 2/8 and 4/8. A size that AWS or torchrun exports must equal N;
Slurm's array may be a part of the original one.

IDs and counts that no Slurm array has are refused as what they are: a negative ID, an ID outside
MIN..MAX (or off the array's step), a COUNT or STEP that disagrees with MIN and MAX.

Every refusal is an InputError in one line that names the variable, its value and what to give.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError, Setting
from .joblist import parse_shard

SLURM = "SLURM_ARRAY_TASK_ID"
KUBERNETES = "JOB_COMPLETION_INDEX"
AWS = "AWS_BATCH_JOB_ARRAY_INDEX"
TORCH = "RANK"
SOURCES = (SLURM, KUBERNETES, AWS, TORCH)  # in order of precedence
SIZES = {AWS: "AWS_BATCH_JOB_ARRAY_SIZE", TORCH: "WORLD_SIZE"}  # the count each exports, where it does
BASES = {KUBERNETES: 0, AWS: 0, TORCH: 0}  # what auto/N subtracts from the index (Slurm's: its array decides)
BASE = "NST_SHARD_BASE"  # overrides BASES for any source: 0 or 1
_MIN, _MAX, _STEP, _COUNT = (f"SLURM_ARRAY_TASK_{part}" for part in ("MIN", "MAX", "STEP", "COUNT"))


@dataclass(frozen=True)
class Shard:
    """Shard K of N (K from 0) of a job list, and where K and N came from ('': given as K/N)."""

    k: int
    n: int
    source: str = ""

    def __str__(self) -> str:
        return f"shard {self.k}/{self.n}" + (f" from {self.source}" if self.source else "")


@dataclass(frozen=True)
class Auto:
    """``auto`` (N from the environment too) or ``auto/N``: K, and N, found when the run starts."""

    n: int | None = None

    def __str__(self) -> str:
        return "auto" if self.n is None else f"auto/{self.n}"


def parse(spec: str) -> Shard | Auto:
    """'K/N' -> Shard(K, N); 'auto' -> Auto(); 'auto/N' -> Auto(N), N >= 1."""
    text = spec.strip()
    head, sep, tail = text.partition("/")
    if head == "auto":
        n = _integer(tail) if sep else None
        if sep and (n is None or n < 1):
            raise InputError(f"shard {spec!r} is not allowed; expected auto/N with N >= 1")
        return Auto(n)
    try:
        return Shard(*parse_shard(text))
    except InputError:
        raise InputError(f"shard {spec!r} is not allowed; expected K/N with 0 <= K < N (K counts from 0: "
                         "0/4 .. 3/4), auto or auto/N") from None


def resolve(spec: str | Shard | Auto, env: Mapping[str, str] = os.environ) -> Shard:
    """The shard that ``spec`` means in the environment ``env``: K/N as it is; ``auto`` and ``auto/N``
    from the first source set (see the module's doc), with the source said in ``Shard.source``,
    e.g. ``SLURM_ARRAY_TASK_ID=3 (array 1-8)``. An InputError in one line if there is none, or it
    does not give a shard."""
    if isinstance(spec, str):
        spec = parse(spec)
    if isinstance(spec, Shard):
        return spec
    setting = Setting("shard", str(spec))
    present = [name for name in SOURCES if _get(env, name) is not None]
    if not present:
        raise InputError(setting, f": none of {', '.join(SOURCES[:-1])} or {SOURCES[-1]} is set in the "
                                  "environment; give ", Setting("shard", "K/N"))
    name = present[0]
    index = _int(env, name, setting)
    if spec.n is not None:
        shard = _counted(env, name, index, spec.n, setting)
    elif name == SLURM:
        shard = _slurm(env, index, setting)
    elif name == KUBERNETES:
        raise InputError(setting, f": {name}={index}, but Kubernetes does not export the Job's completion "
                                  "count; give ", Setting("shard", "auto/N"), " with N the Job's completions")
    else:
        shard = _sized(env, name, index, setting)
    if len(present) > 1:
        also = ", ".join(f"{other}={_get(env, other)}" for other in present[1:])
        shard = Shard(shard.k, shard.n, f"{shard.source}; {also} also set, not used")
    return shard


@dataclass(frozen=True)
class _Array:
    """A Slurm array as its variables say: its first and last task IDs, its task count (None: not set
    and not known) and, where its tasks are known to be evenly spaced (contiguous or stepped), the
    step between them (None: not known to be, e.g. a sparse array)."""

    low: int
    high: int
    count: int | None
    step: int | None

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.low}"
        if self.step is not None and self.count == 2 and self.step > 1:
            return f"{self.low},{self.high}"
        if self.step is not None:
            return f"{self.low}-{self.high}" + (f":{self.step}" if self.step > 1 else "")
        tasks = f"of {self.count} tasks " if self.count is not None else ""
        return f"{tasks}from {self.low} to {self.high}"


def _slurm_array(env: Mapping[str, str], index: int, setting: Setting) -> _Array | None:
    """The array that the task ``index`` is a task of, from SLURM_ARRAY_TASK_MIN, _MAX, _COUNT and _STEP;
    None if MIN or MAX is not set. An InputError in one line for variables that no Slurm array has:
    a negative ID, an ID outside MIN..MAX, a count or step that disagrees with MIN and MAX."""
    if index < 0:
        raise InputError(setting, f": {SLURM}={index} is negative; a Slurm array's task IDs are 0 or more")
    if _get(env, _MIN) is None or _get(env, _MAX) is None:
        return None
    low, high = _int(env, _MIN, setting), _int(env, _MAX, setting)
    if low < 0 or high < low:
        raise InputError(setting, f": {_MIN}={low} and {_MAX}={high} are not the first and last task IDs of an "
                                  "array (0 <= MIN <= MAX)")
    count = None if _get(env, _COUNT) is None else _int(env, _COUNT, setting)
    if count is not None and not (1 <= count <= high - low + 1 and (count == 1) == (low == high)):
        tasks = "1 task" if low == high else f"2 to {high - low + 1} tasks"
        raise InputError(setting, f": {_COUNT}={count} disagrees with {_MIN}={low} and {_MAX}={high}, an array of "
                                  f"{tasks}")
    if not low <= index <= high:
        raise InputError(setting, f": {SLURM}={index} is outside its array, whose task IDs go from {_MIN}={low} to "
                                  f"{_MAX}={high}")
    step = None if _get(env, _STEP) is None else _int(env, _STEP, setting)
    if step is not None and step < 1:
        raise InputError(setting, f": {_STEP}={step} is not a step between task IDs (1 or more)")
    if step is not None and step > 1 and ((high - low) % step or count is not None and count != (high - low) // step + 1):
        counted = f" and {_COUNT}={count}" if count is not None else ""
        why = (f"a step of {step} from {low} does not end at {high}" if (high - low) % step else
               f"a step of {step} from {low} to {high} makes {(high - low) // step + 1} tasks")
        raise InputError(setting, f": {_STEP}={step}{counted} disagree with {_MIN}={low} and {_MAX}={high}: {why}")
    if low == high:
        spacing = 1
    elif count == 2:  # two tasks: the first and the last, whatever the step says
        spacing = high - low
    elif step is not None and step > 1:
        spacing = step
    elif count is not None:  # Slurm says step 1 of an irregular array too: its count tells
        spacing = 1 if count == high - low + 1 else None
    else:  # no count (an old Slurm): step 1 is contiguous or irregular alike
        spacing = None
    if spacing is not None:
        count = (high - low) // spacing + 1
        if (index - low) % spacing:
            raise InputError(setting, f": {SLURM}={index} is not a task of its array {_Array(low, high, count, spacing)}")
    return _Array(low, high, count, spacing)


def _slurm(env: Mapping[str, str], index: int, setting: Setting) -> Shard:
    """``auto`` in a Slurm array: the task's place in a regular (contiguous or stepped) array."""
    array = _slurm_array(env, index, setting)
    if array is None:
        missing = _MIN if _get(env, _MIN) is None else _MAX
        raise InputError(setting, f": {SLURM}={index}, but {missing} is not set, so the array's tasks cannot "
                                  "be numbered 0..N-1; give ", Setting("shard", "auto/N"),
                         " with N the array's task count")
    if array.step is None and array.count is None:
        raise InputError(setting, f": {SLURM}={index}, but {_COUNT} is not set (an old Slurm), so a contiguous "
                                  "array cannot be told from a sparse one and its tasks cannot be numbered 0..N-1; "
                                  "give ", Setting("shard", "auto/N"), " with N the array's task count")
    if array.step is None:
        raise InputError(setting, f": {SLURM}={index} is a task of an array that is not contiguous or stepped "
                                  f"({array.count} tasks from {array.low} to {array.high}), so its tasks cannot be "
                                  "numbered 0..N-1; give ", Setting("shard", "auto/N"), " with N the original array's "
                                  "task count, or submit a contiguous or stepped array")
    return Shard((index - array.low) // array.step, array.count, f"{SLURM}={index} (array {array})")


def _slurm_counted(env: Mapping[str, str], index: int, n: int, setting: Setting) -> Shard:
    """``auto/N`` in a Slurm array: K the ID minus a base that the whole array decides (see the module's
    doc), so that its tasks all run, each its own shard, or all refuse."""
    array = _slurm_array(env, index, setting)
    given = _base(env, setting)
    if array is None:
        if given is None:
            raise InputError(setting, f": {SLURM}={index}, but {_MIN} and {_MAX} are not set, so whether the "
                                      f"array's task IDs count from 0 or from 1 cannot be told; set {BASE}=0 or "
                                      f"{BASE}=1")
        return _offset(SLURM, index, given, n, setting, True)
    low, high = array.low, array.high

    def fits(base: int) -> bool:
        return low - base >= 0 and high - base <= n - 1

    if given is not None:
        if not fits(given):
            raise InputError(setting, f": {SLURM}={index} is a task of the array {array}, whose IDs counted from "
                                      f"{given} ({BASE}={given}) are shards {low - given}..{high - given}, not all "
                                      f"of 0..{n - 1} (N={n})")
        base = given
    else:
        bases = [b for b in (0, 1) if fits(b)]
        if not bases:
            raise InputError(setting, f": {SLURM}={index} is a task of the array {array}, whose IDs counted from 0 "
                                      f"or from 1 are not all shards of 0..{n - 1} (N={n}); give ",
                             Setting("shard", "auto"), " to number the array's tasks 0..N-1, or ",
                             Setting("shard", "auto/N"), " with N the original array's task count")
        if len(bases) == 2:
            raise InputError(setting, f": {SLURM}={index} is a task of the array {array}, whose IDs are shards of "
                                      f"0..{n - 1} (N={n}) counted from 0 ({low}..{high}) and counted from 1 "
                                      f"({low - 1}..{high - 1}) alike; set {BASE}=1 if the original array counted "
                                      f"from 1 (1-{n}), {BASE}=0 if from 0 (0-{n - 1})")
        base = bases[0]
    chosen = f"{BASE}={base}; " if given is not None else ""
    return Shard(index - base, n, f"{SLURM}={index} counted from {base} ({chosen}array {array})")


def _sized(env: Mapping[str, str], name: str, index: int, setting: Setting) -> Shard:
    """``auto`` for AWS Batch and torchrun: K the index, N the size they export."""
    size_name = SIZES[name]
    if _get(env, size_name) is None:
        raise InputError(setting, f": {name}={index}, but {size_name} is not set; give ", Setting("shard", "auto/N"),
                         " with N the number of tasks")
    size = _int(env, size_name, setting)
    if not 0 <= index < size:
        raise InputError(setting, f": {name}={index} counted from 0 is not a shard of {size_name}={size} "
                                  f"(0..{size - 1})")
    return Shard(index, size, f"{name}={index} of {size_name}={size}")


def _counted(env: Mapping[str, str], name: str, index: int, n: int, setting: Setting) -> Shard:
    """``auto/N``: K the index minus the base; a size that AWS or torchrun exports must be N. Slurm's
    base is decided by its whole array (_slurm_counted)."""
    if name == SLURM:
        return _slurm_counted(env, index, n, setting)
    size_name = SIZES.get(name)
    if size_name is not None and _get(env, size_name) is not None:
        size = _int(env, size_name, setting)
        if size != n:
            raise InputError(setting, f": {size_name}={size} says there are {size} tasks, not {n}; give ",
                             Setting("shard", "auto"), " or ", Setting("shard", f"auto/{size}"))
    given = _base(env, setting)
    return _offset(name, index, BASES[name] if given is None else given, n, setting, given is not None)


def _base(env: Mapping[str, str], setting: Setting) -> int | None:
    """NST_SHARD_BASE's 0 or 1; None if it is not set."""
    given = _get(env, BASE)
    if given is None:
        return None
    if given not in ("0", "1"):
        raise InputError(setting, f": {BASE}={env[BASE]!r} is not 0 or 1 (the first task's index)")
    return int(given)


def _offset(name: str, index: int, base: int, n: int, setting: Setting, given: bool) -> Shard:
    """Shard index - base of N, from the variable ``name``; ``given``: the base is NST_SHARD_BASE's."""
    counted = f"counted from {base}" + (f" ({BASE}={base})" if given else "")
    k = index - base
    if not 0 <= k < n:
        raise InputError(setting, f": {name}={index} {counted} is shard {k}, not one of 0..{n - 1} (N={n})")
    return Shard(k, n, f"{name}={index} {counted}")


def _get(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, stripped; None if it is not set or empty."""
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def _integer(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text.strip()) else None


def _int(env: Mapping[str, str], name: str, setting: Setting) -> int:
    """The variable as an integer, or an InputError naming it and its value."""
    value = _integer(env[name])
    if value is None:
        raise InputError(setting, f": {name}={env[name]!r} is not an integer")
    return value
