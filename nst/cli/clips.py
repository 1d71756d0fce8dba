"""The command line's clip run: ``nst clip.mp4 style.jpg -o out.mp4`` and ``nst frames/ style.jpg -o
out/ --sequence``. It plans the clips, checks what each will write, runs them (nst.jobs.clips)
and reports their results through the one result loop (nst.cli.results) and a ClipReporter: per
clip, one bar (or plain lines) over its frames and one over each frame's evaluations of J.
"""

from __future__ import annotations

from ..core.config import INITS, Config
from ..errors import InputError
from ..jobs import outputs
from ..jobs.clips import FRAME_EXT, ClipJob, plan, run_clips
from ..jobs.inputs import parse_style
from ..jobs.regionspec import check_whole_style
from ..jobs.sequence import SequenceConfig
from ..jobs.styles import Style
from ..pixels.images import FORMATS
from ..pixels.video import VIDEO_EXTENSIONS, Encoder
from . import results
from .console import ClipReporter
from .images import with_shard
from .interrupt import SignalStop, stopped_by
from .options import Args


def run(args: Args, cfg: Config) -> int:
    """Plan and run the clips under SignalStop's handlers; return the exit status
    (nst.cli.results.exit_status). A single clip that fails raises its exception, for the command
    to say in one line (exit 2 for bad input)."""
    with SignalStop() as stop:
        try:
            args = with_shard(args)  # --shard auto: K/N from the environment
            check_whole_style(args.style)  # none, STYLE@MASK or MASK=STYLE: said to belong to --region
            styles = [parse_style(args.style)]
            seq = SequenceConfig(args.temporal_weight, args.warm_iterations)
            encoder = Encoder(args.codec, crf=args.crf, options=args.encoder_options)
            jobs = _plan(args, styles, encoder, [cfg.init] if cfg.init not in INITS else [])
            reporter = ClipReporter(cfg, args.quiet, len(jobs))
        except KeyboardInterrupt as e:  # a second signal before the work: nothing to say
            return stopped_by(e)[1]
        single = len(jobs) == 1
        try:
            with reporter:
                results.report(run_clips(jobs, cfg, seq, encoder=encoder, shard=args.shard,
                                         skip_existing=args.skip_existing, on_start=reporter.start,
                                         on_frame=reporter.frame, on_iterate=reporter.iterate, should_stop=stop,
                                         checkpoint_every=args.checkpoint_every, restart=args.restart,
                                         on_note=reporter.note, overlap=args.shard_overlap),
                               reporter, args, single=single)
        except KeyboardInterrupt as e:  # a second signal (StopNow), or Ctrl-C without SignalStop's handlers
            return results.stopped_at_once(reporter, args, e, single=single)
        return results.exit_status(reporter, args, len(jobs), single=single, stop=stop)


def _plan(args: Args, styles: list[Style], encoder: Encoder, protect: list) -> list[ClipJob]:
    """The clips, once what each will write is found writable (now, not after its frames); no
    output is a path in ``protect`` (an --init image)."""
    ext = args.ext if "ext" in args.given else None
    video_ext = ext if ext is not None and ext.lower() in VIDEO_EXTENSIONS else ".mp4"
    frame_ext = ext if ext is not None and ext.lower() in FORMATS else FRAME_EXT
    if ext is not None and not args.sequence and ext.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"--ext {ext}: videos are written as {' '.join(sorted(VIDEO_EXTENSIONS))}")
    jobs = plan(args.content, styles, args.output, sequence=args.sequence, name=args.name_template, ext=video_ext,
                frame_ext=frame_ext, regions=args.regions, protect=protect)
    for job in jobs:
        if args.skip_existing and job.is_video and job.output.exists():
            continue
        if job.is_video:
            encoder.check(job.output)
            outputs.check_file(job.output)
        outputs.check_folder(job.frames_dir)
    return jobs
