"""Which shard of the job list this worker does: K/N as given, or K and N found in the environment
of a cluster's array job (``shard='auto'`` or ``'auto/N'``), with where they came from.

The sources, in this order (the first one set is used, and the others are named as not used):

- a Slurm array: ``SLURM_ARRAY_TASK_ID`` with ``SLURM_ARRAY_TASK_MIN``, ``_MAX``, ``_STEP`` and
  ``_COUNT`` (computed from the other three where Slurm is too old to set it);
- a Kubernetes Indexed Job: ``JOB_COMPLETION_INDEX`` (Kubernetes does not export the count);
- an AWS Batch array job: ``AWS_BATCH_JOB_ARRAY_INDEX`` and ``AWS_BATCH_JOB_ARRAY_SIZE``;
- torchrun or another torch.distributed launcher: ``RANK`` and ``WORLD_SIZE``.

``auto``: for Slurm, a regular array (contiguous or stepped: ``1-8``, ``0-7``, ``1-7:3``) has its
tasks numbered 0..N-1 in order, K = (ID - MIN) / STEP and N its task count; a sparse one
(``2,5,9``) is refused, as its tasks cannot be numbered so (auto/N can). A resubmitted part of an
array, say ``3-4`` of ``1-8``, is an array of its own: its two tasks split the whole job list
between them (outputs already made are skipped where the run skips existing ones). For AWS and
torchrun, K is the index and N the size; Kubernetes needs auto/N.

``auto/N``: N as given, and K the index minus a base: 1 for Slurm (arrays written ``1-N``), 0 for
the others, or the ``NST_SHARD_BASE`` variable's 0 or 1 for any. Resubmitting tasks 3 and 5 of
``1-8`` as an array ``3,5`` with auto/8 does shards 2/8 and 4/8. A size that AWS or torchrun
exports must equal N; Slurm's array may be a part of the original one.

Every refusal is an InputError in one line that names the variable, its value and what to give.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError, Setting
from .batch import parse_shard

SLURM = "SLURM_ARRAY_TASK_ID"
KUBERNETES = "JOB_COMPLETION_INDEX"
AWS = "AWS_BATCH_JOB_ARRAY_INDEX"
TORCH = "RANK"
SOURCES = (SLURM, KUBERNETES, AWS, TORCH)  # in order of precedence
SIZES = {AWS: "AWS_BATCH_JOB_ARRAY_SIZE", TORCH: "WORLD_SIZE"}  # the count each exports, where it does
BASES = {SLURM: 1, KUBERNETES: 0, AWS: 0, TORCH: 0}  # what auto/N subtracts from the index
BASE = "NST_SHARD_BASE"  # overrides BASES for any source: 0 or 1


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


def _slurm(env: Mapping[str, str], index: int, setting: Setting) -> Shard:
    """``auto`` in a Slurm array: the task's place in a regular (contiguous or stepped) array."""
    bounds = {}
    for part in ("MIN", "MAX", "STEP"):
        name = f"SLURM_ARRAY_TASK_{part}"
        if _get(env, name) is None:
            raise InputError(setting, f": {SLURM}={index}, but {name} is not set, so the array's tasks cannot "
                                      "be numbered 0..N-1; give ", Setting("shard", "auto/N"),
                             " with N the array's task count")
        bounds[part] = _int(env, name, setting)
    low, high, step = bounds["MIN"], bounds["MAX"], bounds["STEP"]
    span = (high - low) // step + 1 if step >= 1 and high >= low else 0
    count = span if _get(env, "SLURM_ARRAY_TASK_COUNT") is None else _int(env, "SLURM_ARRAY_TASK_COUNT", setting)
    if not (span >= 1 and count == span and low <= index <= high and (index - low) % step == 0):
        raise InputError(setting, f": {SLURM}={index} is a task of an array that is not contiguous or stepped "
                                  f"({count} tasks from {low} to {high}), so its tasks cannot be numbered 0..N-1; "
                                  "give ", Setting("shard", "auto/N"), " with N the original array's task count, "
                                  "or submit a contiguous or stepped array")
    array = f"{low}" if low == high else f"{low}-{high}" + (f":{step}" if step > 1 else "")
    return Shard((index - low) // step, count, f"{SLURM}={index} (array {array})")


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
    """``auto/N``: K the index minus the base; a size that AWS or torchrun exports must be N."""
    size_name = SIZES.get(name)
    if size_name is not None and _get(env, size_name) is not None:
        size = _int(env, size_name, setting)
        if size != n:
            raise InputError(setting, f": {size_name}={size} says there are {size} tasks, not {n}; give ",
                             Setting("shard", "auto"), " or ", Setting("shard", f"auto/{size}"))
    given = _get(env, BASE)
    if given is None:
        base = BASES[name]
    elif given in ("0", "1"):
        base = int(given)
    else:
        raise InputError(setting, f": {BASE}={env[BASE]!r} is not 0 or 1 (the first task's index)")
    counted = f"counted from {base}" + (f" ({BASE}={base})" if given is not None else "")
    k = index - base
    if not 0 <= k < n:
        hint = ""
        if name == SLURM and k == -1:
            hint = f"; for an array counted from 0 (--array=0-{n - 1}) set {BASE}=0"
        raise InputError(setting, f": {name}={index} {counted} is shard {k}, not one of 0..{n - 1} (N={n}){hint}")
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
