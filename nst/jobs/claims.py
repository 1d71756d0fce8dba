"""Claims: which worker is working on an output, so that workers sharing an output folder never
work on one output at the same time (two given overlapping shards by mistake, an array job
resubmitted while its first run still goes, a second machine started on the same folder).

Before a job's work starts, its worker creates ``OUT.claim`` beside the output (``out.jpg.claim``)
exclusively (a hard link of a file of its own, or ``O_CREAT | O_EXCL``: of two workers, one creates
it and the other finds it there), holding JSON ``{host, pid, started, heartbeat}``. While the job
runs, a daemon thread rewrites it every ``HEARTBEAT`` seconds, so its modification time says the
worker is alive; it is removed when the job ends, whether done, failed or interrupted. A worker that is killed (SIGKILL, a lost node)
leaves it behind, and once it has not been refreshed for ``STALE`` seconds it is stale (at once if
its worker was a process of this machine that has ended): the next worker takes it over. Taking over is safe against races: the stale claim is renamed to a name of
the taker's own (a rename is atomic: of two takers one moves it, the other finds it gone), and
the mover checks that what it moved is the claim it found stale (the same file, not refreshed)
before the new claim is made, again exclusively, so that one taker wins.

Exclusive creation and rename are atomic on local file systems and on NFS (v3 and later) and
Lustre, GPFS, BeeGFS. Staleness compares a claim's modification time, which a shared file system
sets by its server's clock, with this machine's clock: ``STALE`` is minutes so that clocks a little
apart do not matter.

``survey(output)`` says how far an output has got, for ``nst status``: done, claimed by a live
worker, partial (a partial result kept: nst.jobs.checkpoint) or missing.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from ..errors import NSTError
from . import provenance
from .outputs import partial_paths

# Seconds between a claim's refreshes while its job runs.
HEARTBEAT = 30.0
# Seconds without a refresh after which a claim is stale (its worker is taken to be dead): several
# heartbeats, so that a busy file server or a short pause does not make a live worker's claim stale.
STALE = 300.0
SUFFIX = ".claim"
# Tries at taking a claim that keeps changing hands (made, released, taken over) before giving up.
ATTEMPTS = 5


def claim_path(output: str | Path, tag: str | None = None) -> Path:
    """The claim of ``output``: out.jpg -> out.jpg.claim; with a ``tag`` (a part of the output, e.g.
    one shard of a clip's frames): out.mp4.TAG.claim."""
    output = Path(os.path.abspath(output)) if not Path(output).name else Path(output)
    return output.with_name(f"{output.name}{'.' + tag if tag else ''}{SUFFIX}")


@dataclass(frozen=True)
class Holder:
    """The worker that holds a claim, as its file says: ``host``, ``pid`` and ``started`` (seconds
    since the epoch) from its JSON (None if it could not be read: a claim being written), and
    ``heartbeat``, its last refresh (the file's modification time)."""

    path: Path
    heartbeat: float
    host: str | None = None
    pid: int | None = None
    started: float | None = None

    def age(self, now: float | None = None) -> float:
        """Seconds since the last refresh."""
        return (time.time() if now is None else now) - self.heartbeat

    def fresh(self, now: float | None = None) -> bool:
        """Whether its worker is taken to be alive: refreshed within STALE seconds, and not a process
        of this machine that has ended (a worker killed and started again at once, e.g. a requeued
        array task on the same node, need not wait for its old claim to go stale)."""
        return self.age(now) < STALE and not self.gone

    @property
    def gone(self) -> bool:
        """Whether its worker is known to have ended: a process of this machine (same host name) that
        no longer runs. A worker elsewhere is known by its heartbeat only."""
        if self.host != socket.gethostname() or self.pid is None or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # e.g. another user's process: it runs
            return False
        return False

    @property
    def worker(self) -> str:
        """'host:pid', or 'an unknown worker' for a claim whose file could not be read."""
        if self.host is None:
            return "an unknown worker"
        return f"{self.host}:{self.pid}" if self.pid is not None else self.host

    def __str__(self) -> str:
        """'node7:1234 since 12:03' (with the date when not today)."""
        since = self.started if self.started is not None else self.heartbeat
        t = time.localtime(since)
        same_day = time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d")
        return f"{self.worker} since {time.strftime('%H:%M' if same_day else '%Y-%m-%d %H:%M', t)}"

    def to_json(self) -> dict:
        return {"host": self.host, "pid": self.pid, "started": self.started, "heartbeat": self.heartbeat,
                "fresh": self.fresh(), "file": str(self.path)}


class Claimed(NSTError):
    """An output that a live worker holds: ``holder`` is that worker."""

    def __init__(self, output: str | Path, holder: Holder) -> None:
        super().__init__(f"{output}: claimed by {holder}")
        self.output, self.holder = Path(output), holder


def read(path: str | Path) -> Holder | None:
    """The holder of the claim file ``path``, fresh or stale; None if there is no such file."""
    path = Path(path)
    try:
        st = os.stat(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        text = ""
    try:
        data = json.loads(text)
    except ValueError:  # being written (empty for an instant), or not a claim of nst
        data = None
    if not isinstance(data, dict):
        return Holder(path, st.st_mtime)
    pid, started = data.get("pid"), data.get("started")
    return Holder(path, st.st_mtime, str(data["host"]) if data.get("host") is not None else None,
                  pid if isinstance(pid, int) else None,
                  float(started) if isinstance(started, (int, float)) else None)


def holder(output: str | Path, tag: str | None = None) -> Holder | None:
    """The live worker that holds ``output``'s claim, if one does (a stale claim is no one's)."""
    found = read(claim_path(output, tag))
    return found if found is not None and found.fresh() else None


class Claim:
    """A claim this process holds: its file, refreshed every HEARTBEAT seconds by a daemon thread
    until ``release()`` (or the end of a ``with`` block) removes it. ``lost`` turns true if the
    file was found taken over (this process failed to refresh it for STALE seconds)."""

    def __init__(self, path: Path, fd: int, started: float) -> None:
        """``fd``: the claim file at ``path``, open for writing, its JSON written (see ``take``)."""
        self.path, self._fd, self.started = path, fd, started
        self.lost = False
        st = os.fstat(fd)
        self._id = (st.st_dev, st.st_ino)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"nst claim {path.name}", daemon=True)
        self._thread.start()

    @property
    def held(self) -> bool:
        """Whether the claim file is still this one (not removed, not taken over)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == self._id

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):  # HEARTBEAT read at each beat: tests shrink it
            if not self.held:
                self.lost = True
                return
            try:
                _write(self._fd, self.started)
            except OSError:  # a file server's hiccup: the next beat tries again
                pass

    def release(self) -> None:
        """Stop refreshing the claim and remove it (unless it is no longer this one). Idempotent."""
        if self._fd is None:
            return
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        os.close(self._fd)
        self._fd = None
        if self.held:
            _unlink(self.path)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _write(fd: int, started: float) -> None:
    """A claim's JSON, with the heartbeat now, over the file's old text (so that it is never empty);
    writing sets the file's modification time, which is what says the claim is fresh."""
    data = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": started,
                       "heartbeat": time.time()}).encode()
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.ftruncate(fd, len(data))


def _create(path: Path) -> Claim | None:
    """A new claim file at ``path``, or None if there is one. The claim is written in a file of this
    process's own and then hard-linked as ``path`` (a link, like O_EXCL, fails if ``path`` exists), so
    that no worker ever reads a claim before its JSON is in it; where the file system has no hard
    links, ``path`` is created with O_CREAT | O_EXCL and then written."""
    started = time.time()
    tmp = path.with_name(f"{path.name}.{_me()}.new")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        _write(fd, started)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    try:
        os.link(tmp, path)
    except FileExistsError:
        if os.fstat(fd).st_nlink < 2:  # (NFS may say so of a link it made: then the file has two names)
            os.close(fd)
            return None
    except OSError:  # no hard links on this file system
        os.close(fd)
        return _create_in_place(path, started)
    except BaseException:
        os.close(fd)
        raise
    finally:
        _unlink(tmp)
    return Claim(path, fd, started)


def _create_in_place(path: Path, started: float) -> Claim | None:
    """_create where there are no hard links: empty for an instant, which ``read`` allows for."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    try:
        _write(fd, started)
    except BaseException:
        os.close(fd)
        _unlink(path)
        raise
    return Claim(path, fd, started)


def _me() -> str:
    """A name of this process's own: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def take(output: str | Path, tag: str | None = None) -> Claim:
    """Claim ``output`` (or its part ``tag``) for this process: a fresh claim, taking over a stale
    one. Raises Claimed if a live worker holds it, and OSError if the claim cannot be written."""
    path = claim_path(output, tag)
    found: Holder | None = None
    for _ in range(ATTEMPTS):
        claim = _create(path)
        if claim is not None:
            return claim
        found = read(path)
        if found is None:  # released since: try again
            continue
        if found.fresh():
            raise Claimed(output, found)
        _remove_stale(path, found)  # whether this process or another removed it, the next _create decides
    raise Claimed(output, found or Holder(path, time.time()))


def _remove_stale(path: Path, stale: Holder) -> None:
    """Remove the claim file ``path`` if it is still the stale claim ``stale``: moved aside under a
    name of this process's own (only one of several takers moves it), then removed if it is the
    same file, not refreshed since; if it is not (another taker had made a fresh claim in its place,
    or its worker came back), it is put back."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_mtime != stale.heartbeat:
        return  # refreshed since it was read: not stale
    aside = path.with_name(f"{path.name}.{_me()}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another taker moved it first
    moved = os.stat(aside)
    if (moved.st_dev, moved.st_ino, moved.st_mtime_ns) == (st.st_dev, st.st_ino, st.st_mtime_ns):
        _unlink(aside)
        return
    try:  # a live claim was moved: put it back, unless a claim was made in its place meanwhile
        os.link(aside, path)
    except FileExistsError:
        pass
    except OSError:  # no hard links on this file system
        if not path.exists():
            os.replace(aside, path)
            return
    _unlink(aside)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- how far an output has got (nst status) --------------------------------------------------------

STATES = ("done", "partial", "claimed", "missing")
_OWN = object()  # survey's claim: the output's own OUT.claim


@dataclass(frozen=True)
class Survey:
    """How far one output has got: ``state`` "done" (it exists), "claimed" (a live worker holds it),
    "partial" (a partial result is kept beside it, no live worker holds it) or "missing". ``claim``:
    its claim, fresh or stale, if there is one; ``evaluations`` of ``total``: its partial result's
    progress, as its preview's provenance says (None if unknown), whatever its state."""

    output: Path
    state: str
    claim: Holder | None = None
    partial: Path | None = None
    evaluations: int | None = None
    total: int | None = None

    def to_json(self) -> dict:
        return {"state": self.state, "claim": None if self.claim is None else self.claim.to_json(),
                "partial": None if self.partial is None else {
                    "file": str(self.partial), "evaluations": self.evaluations, "total": self.total}}


def survey(output: str | Path, names: Container[str] | None = None, claim: Holder | None | object = _OWN
           ) -> Survey:
    """What the output folder says of ``output``: see Survey. ``names``: the names in the output's
    folder, listed once by the caller (None: each file is looked up); ``claim``: the claim that covers
    the output when it is not its own OUT.claim (a frame's: its clip shard's claim, or None)."""
    output = Path(output)

    def there(path: Path) -> bool:
        return path.name in names if names is not None else path.exists()

    if claim is _OWN:
        own = claim_path(output)
        claim = read(own) if there(own) else None
    preview, state = partial_paths(output)
    partial = preview if there(preview) else state if there(state) else None
    evaluations = total = None
    if partial == preview:
        try:
            progress = provenance.read(preview).get("partial") or {}
            evaluations, total = progress.get("evaluations"), progress.get("total")
        except (NSTError, OSError, AttributeError):
            pass
    if there(output):
        kind = "done"
    elif claim is not None and claim.fresh():
        kind = "claimed"
    else:
        kind = "partial" if partial is not None else "missing"
    return Survey(output, kind, claim, partial, evaluations, total)
