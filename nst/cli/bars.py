"""The bar reporter, ``BarReporter``: on a terminal, tqdm bars instead of plain progress lines (one
over the evaluations of J of the current image, one over the jobs of a batch), with every other
line of the plain reporter (nst.cli.lines) printed above the bars."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..core.runs import Iterate
from .lines import Reporter


class BarReporter(Reporter):
    """tqdm bars on a terminal: one over the evaluations of J of the current image, labelled with
    the best J so far, and in a batch one over the jobs; messages print above the bars."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outer: tqdm | None = None
        self.inner: tqdm | None = None  # made at a job's first iterate, so an early error prints no bar

    def start(self, jobs: int | None, unit: str = "img") -> None:
        super().start(jobs, unit)
        if jobs is not None:
            self.outer = self._bar(jobs, unit, position=0)

    def job_started(self, output: str | Path) -> None:
        super().job_started(output)
        self._close_inner()

    def _progress(self, it: Iterate) -> None:
        if self.inner is None:
            self.inner = self._bar(it.total, "it", position=0 if self.outer is None else 1)
        self.inner.set_postfix_str(self._costs(self.job.best, sep="="), refresh=False)
        self.inner.update(it.i - self.inner.n)

    def scale_started(self, it: Iterate) -> None:
        if self.scales > 1:
            w, h = it.size
            description = f"scale {it.scale + 1}/{self.scales} {w}×{h}"
            if self.inner is None:
                self.inner = self._bar(it.total, "it", position=0 if self.outer is None else 1)
            self.inner.set_description_str(description, refresh=False)
        line = self._scale_line(it, with_size=False)
        if line:
            self.say(f"nst: {self._name()}{line}")

    def _job_done(self) -> None:
        if self.inner is not None and self.job.best is not None:
            self.inner.set_postfix_str(self._costs(self.job.best, sep="="), refresh=False)
        # one image: the finished bar stays (its count and best J are those of the final line)
        self._close_inner()
        if self.outer is not None:
            self.outer.update(1)

    def close(self) -> None:
        self._close_inner()
        if self.outer is not None:
            self.outer.close()
            self.outer = None

    def _close_inner(self) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None

    def _print(self, text: str) -> None:
        tqdm.write(text, file=self.stream)

    def _bar(self, total: int, unit: str, position: int) -> tqdm:
        return tqdm(total=total, file=self.stream, unit=unit, dynamic_ncols=True, position=position,
                    leave=self.total is None)
