"""What ``nst status`` reports (nst.jobs.progress finds it): the Report, its rows (one per shard), each
image or clip surveyed, its Remarks; and what the surveys of images and of clips share: each folder
listed once, the extension found most chosen (and said), and the names in OUT that are not the run's.
Without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, Say, Setting
from . import claims
from .joblist import ClipJob, Job
from .outputs import partial_paths
from .styles import style_to_json

STATES = claims.STATES
EXAMPLES = 3  # names given as examples in a remark


@dataclass(frozen=True)
class Remark:
    """A line about the whole survey, made of text and Settings like an error's message (the command
    line says the Settings as its flags); ``doubt``: the counts may not be the run's, as its files
    cannot tell (``nst status`` then exits 1)."""

    parts: tuple[object, ...]
    doubt: bool = False

    def worded(self, say: Say) -> str:
        return "".join(say(p) if isinstance(p, Setting) else str(p) for p in self.parts)

    def __str__(self) -> str:
        return "".join(map(str, self.parts))

    def to_json(self, say: Say = str) -> dict:
        return {"text": self.worded(say), "doubt": self.doubt}


@dataclass(frozen=True)
class Row:
    """A row of the table: a shard ('K/N') or 'all', and how many outputs (or frames) are in each state."""

    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Image:
    """One image job: its shard (None without shards) and what its folder says of its output."""

    job: Job
    shard: int | None
    found: claims.Survey

    def to_json(self) -> dict:
        job = self.job
        return {"index": job.index, "content": str(job.content), "style": style_to_json(job.style),
                "output": str(job.output), "shard": self.shard, **self.found.to_json()}


@dataclass(frozen=True)
class ClipClaim:
    """A claim on a clip's frames: OUT.claim (the whole clip) or OUT.shard-K-of-N.claim (its shard K of N)."""

    holder: claims.Holder
    shard: tuple[int, int] | None
    frames: range | None  # the frames it covers; None where the clip's frame count is unknown


@dataclass(frozen=True)
class Clip:
    """One clip job: its frame count (None: it could not be counted, a Remark says why), each frame
    surveyed (those of the shards asked for) with its number and shard, whether a video's file is
    written (None for a folder of frames), and the claims on its shards."""

    job: ClipJob
    frames: int | None
    surveys: tuple[tuple[int, int | None, claims.Survey], ...] = ()
    written: bool | None = None
    claims: tuple[ClipClaim, ...] = ()

    def count(self, state: str) -> int:
        return sum(1 for _, _, s in self.surveys if s.state == state)

    def to_json(self) -> dict:
        job = self.job
        return {"index": job.index, "content": str(job.content), "style": style_to_json(job.style),
                "output": str(job.output), "frames_dir": str(job.frames_dir), "video": job.is_video,
                "written": self.written, "frames": self.frames, "surveyed": len(self.surveys),
                **{state: self.count(state) for state in STATES},
                "claims": [{**c.holder.to_json(), "shard": None if c.shard is None else f"{c.shard[0]}/{c.shard[1]}",
                            "first": None if c.frames is None else c.frames.start,
                            "stop": None if c.frames is None else c.frames.stop} for c in self.claims],
                "partial_frames": [{"frame": t, "file": str(s.partial), "evaluations": s.evaluations,
                                    "total": s.total} for t, _, s in self.surveys
                                   if s.partial is not None and s.state != "done"]}


@dataclass
class Report:
    """How far a run into ``output`` has got: the table's rows, each image or clip, the extension
    counted (None where the names have none to choose), whether OUT exists, and the remarks."""

    kind: str  # "images" or "clips"
    output: Path
    out_exists: bool
    ext: str | None
    rows: list[Row]
    images: list[Image] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    remarks: list[Remark] = field(default_factory=list)

    @property
    def doubt(self) -> bool:
        return any(r.doubt for r in self.remarks)

    @property
    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(STATES, 0)
        for row in self.rows:
            for state, n in row.counts.items():
                totals[state] += n
        return totals


class Listing:
    """The names in each folder, listed once (an empty set for a folder that does not exist)."""

    def __init__(self) -> None:
        self._names: dict[Path, frozenset[str]] = {}

    def __call__(self, folder: Path) -> frozenset[str]:
        if folder not in self._names:
            try:
                self._names[folder] = frozenset(p.name for p in folder.iterdir())
            except OSError:
                self._names[folder] = frozenset()
        return self._names[folder]

    def traced(self, output: Path) -> bool:
        """Whether anything of ``output`` under its own name is there: it, its partial result's preview or
        its claim (not the state, out.partial.pt, which is the same for every extension)."""
        names = self(output.parent)
        return any(p.name in names for p in (output, claims.claim_path(output), partial_paths(output)[0]))


def shard_rows(shard_: tuple[int, int] | None, shards: int | None) -> list[tuple[int | None, str]]:
    """The table's rows: (shard K, 'K/N') for shard K of N or each of ``shards``, else (None, 'all')."""
    if shard_ is not None and shards is not None:
        raise InputError("give ", Setting("shard"), " or ", Setting("shards"), ", not both")
    if shard_ is not None:
        return [(shard_[0], f"{shard_[0]}/{shard_[1]}")]
    if shards is not None:
        return [(k, f"{k}/{shards}") for k in range(shards)]
    return [(None, "all")]


def choose_ext(candidates: dict[str, int], default: str) -> str:
    """The extension found most (the default on a tie or where none is found)."""
    best = max(candidates.values(), default=0)
    if best == 0 or candidates.get(default) == best:
        return default
    return next(e for e, n in candidates.items() if n == best)


def ext_remarks(found: dict[str, int], chosen: str, default: str, given: bool, out: Path) -> list[Remark]:
    """What the choice of extension is worth saying: one counted that is not the default, others found too."""
    remarks = []
    if not given and chosen != default:
        remarks.append(Remark(("counted the outputs as ", chosen, f", as found in {out} (a run with ",
                               Setting("ext", chosen.lstrip(".")), f"; the default is {default})")))
    others = {e: n for e, n in found.items() if n and e != chosen}
    if others:
        listed = ", ".join(f"{n} as {e}" for e, n in others.items())
        first = next(iter(others))
        doubt = found.get(chosen, 0) == 0
        remarks.append(Remark((f"{out} also holds outputs of this job list with another extension ({listed}); "
                               "to count those, give ", Setting("ext", first.lstrip(".")),
                               *((" (none is there as ", chosen, ")") if doubt else ())), doubt))
    return remarks


def others_in(out: Path, listing: Listing, mine: Callable[[str], bool]) -> list[str]:
    """The visible names in OUT that are not the run's (``mine``)."""
    return sorted(n for n in listing(out) if not n.startswith(".") and not mine(n))


def missing_out(out: Path, what: str) -> Remark:
    """The remark (a doubt) that OUT does not exist, so that no ``what`` of the run is there."""
    return Remark((f"{out} does not exist, so no {what} of this run is there: it has not started, or this is not "
                   "its ", Setting("output")), True)
