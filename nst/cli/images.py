"""The command line's image run: ``nst CONTENT... STYLE -o OUT``, one image to a file or images into
a directory. It plans the jobs, checks every file they will write, runs them (nst.jobs.batch) and
reports their results through the one result loop (nst.cli.results); it writes --save-every's
iterates, and the files of --log, --gif and --contact-sheet after a single image (a single image
that a signal stopped writes its --log, marked stopped, and the run that resumes it continues it)."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import click

from ..core.config import INITS, Config
from ..core.runs import Iterate
from ..errors import InputError
from ..jobs import checkpoint, outputs, provenance, shards
from ..jobs.batch import Job, JobResult, run_batch
from ..jobs.batch import plan as make_plan
from ..jobs.batch import shard as take_shard
from ..jobs.inputs import parse_style
from ..jobs.regionspec import check_whole_style
from ..pixels.images import output_format, save_image, to_pil
from . import report, results
from .console import make_reporter
from .lines import Reporter
from .interrupt import SignalStop, StopNow
from .options import BATCH, IMAGE, Args, check_flags


def intermediate_path(output: Path, i: int) -> Path:
    """Where --save-every writes evaluation i: next to OUT, e.g. out_0050.jpg."""
    return output.with_name(f"{output.stem}_{i:04d}{output.suffix}")


def run(args: Args, cfg: Config) -> int:
    """Plan and run the image jobs; return the exit status (nst.cli.results.exit_status). A single
    image that fails raises its exception, for the command to say in one line. A Ctrl-C before
    the work starts is raised for the command to say."""
    args = with_shard(args)
    check_whole_style(args.style)  # none, STYLE@MASK or MASK=STYLE: said to belong to --region
    protect = [cfg.init] if cfg.init not in INITS else []
    plan = make_plan(args.content, [parse_style(args.style)], args.output, name=args.name_template, ext=args.ext,
                     recursive=args.recursive, protect=protect, regions=args.regions)
    jobs = take_shard(plan.jobs, *args.shard) if args.shard else plan.jobs
    single = not plan.into_dir and len(jobs) == 1
    if not plan.into_dir:
        check_flags(args, IMAGE)
    if not single:
        check_flags(args, BATCH)
    record = _record(args)
    # Every file this run will write can be written: found out now, not after the work.
    outputs.check_files([j.output for j in jobs if not (args.skip_existing and j.output.exists())]
                        + [p for p in (args.log_path, args.gif_path, args.sheet_path) if p is not None])
    reporter = watch = None
    try:
        with make_reporter(cfg, args.quiet) as reporter, SignalStop() as stop:
            reporter.start(None if single else len(jobs))
            watch = _Watch(reporter, args, plan.into_dir, record, stop)
            results.report(run_batch(jobs, cfg, skip_existing=args.skip_existing, make_dirs=True,
                                     on_iterate=watch.iterate, should_stop=stop,
                                     checkpoint_every=args.checkpoint_every, restart=args.restart,
                                     on_note=watch.note),
                           reporter, args, single=single, on_done=None if record is None else watch.done,
                           on_stopped=None if record is None else watch.stopped)
    except KeyboardInterrupt as e:  # a second signal (StopNow), or Ctrl-C outside the handlers
        if reporter is None:
            raise  # before any work
        if watch is not None and record is not None and single:
            watch.stopped_at_once(jobs[0], e)
        return results.stopped_at_once(reporter, args, e, single=single)
    return results.exit_status(reporter, args, len(jobs), single=single, stop=stop)


def with_shard(args: Args) -> Args:
    """``args`` with --shard auto (or auto/N) as the K/N it means in this process's environment
    (nst.jobs.shards), and where K and N came from said on stderr unless -q; its failure is an
    InputError, said in one line."""
    if not isinstance(args.shard, shards.Auto):
        return args
    shard = shards.resolve(args.shard)
    if not args.quiet:
        click.echo(f"nst: {shard}", err=True)
    return dataclasses.replace(args, shard=(shard.k, shard.n))


def _record(args: Args) -> report.RunRecord | None:
    """What --log, --gif and --contact-sheet keep of the run of one image, if any is asked for;
    their names are checked now, not after the run."""
    if args.log_path is None and args.gif_path is None and args.sheet_path is None:
        return None
    if args.gif_path is not None:
        report.check_animation_path(args.gif_path)
    if args.sheet_path is not None:
        output_format(args.sheet_path)
    return report.RunRecord(args.save_every, args.gif_path is not None or args.sheet_path is not None)


class _Watch:
    """The callbacks of an image run: each iterate to the reporter, to --save-every's files and to
    the record of the run; notes as messages; the record's files once the image is written."""

    def __init__(self, reporter: Reporter, args: Args, into_dir: bool, record: report.RunRecord | None,
                 stop: SignalStop | None = None) -> None:
        self.reporter, self.args, self.into_dir, self.record, self.stop = reporter, args, into_dir, record, stop

    def iterate(self, job: Job, it: Iterate) -> None:
        self.reporter.iterate(it, job.output)
        every = self.args.save_every
        if every and it.i % every == 0:
            if self.into_dir:
                job.output.parent.mkdir(parents=True, exist_ok=True)
            self.reporter.saved(save_image(to_pil(it.image), intermediate_path(job.output, it.i)))
        if self.record is not None:
            self.record(it)

    def note(self, job: Job, message: str) -> None:
        # resuming is news; a discarded or unwritable partial result is a warning
        (self.reporter.say if message.startswith("resuming") else self.reporter.warn)(f"nst: {message}")

    def done(self, result: JobResult) -> None:
        args = self.args
        for path, what in self.record.write(result.job.output, args.log_path, args.gif_path, args.sheet_path,
                                            result.J, resumed_from=result.resumed_from):
            self.reporter.wrote(path, what)

    def stopped(self, result: JobResult) -> None:
        """The image was interrupted (its partial result kept): its --log, marked stopped."""
        name = self.stop.name if self.stop is not None and self.stop.name else "SIGINT"
        self._stopped_log(result.partial, name, result.resumed_from)

    def stopped_at_once(self, job: Job, e: KeyboardInterrupt) -> None:
        """A second signal stopped the image at once (its last checkpoint kept): its --log, marked
        stopped; this run resumed at the evaluation before its first, if not at the first."""
        name = signal.Signals(e.signum).name if isinstance(e, StopNow) else "SIGINT"
        if not self.record.evaluations:  # nothing evaluated in this run: an earlier stopped log stays
            return
        first = self.record.evaluations[0]["i"]
        preview = checkpoint.preview_path(job.output)
        self._stopped_log(preview if preview.exists() else None, name, first - 1 or None)

    def _stopped_log(self, partial: Path | None, name: str, resumed_from: int | None) -> None:
        """The --log of a stopped run: the provenance of its partial result (its settings and how far
        it got; nothing if none was kept), "stopped": the signal, and its evaluations."""
        if self.args.log_path is None:
            return
        try:
            base = {} if partial is None else provenance.read(partial)
        except InputError:
            base = {}
        try:
            path, what = self.record.write_log(self.args.log_path, base, resumed_from=resumed_from, stopped=name)
        except OSError as e:  # the stop's own line and exit status still follow
            self.reporter.warn(f"nst: could not write the log {self.args.log_path}: {e.strerror or e}")
            return
        self.reporter.wrote(path, what)
