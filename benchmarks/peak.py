"""A whole process's peak resident memory, sampled through its run, and when it happened.

    flock /tmp/nst-cpu.lock python benchmarks/peak.py -- nst examples/coffee.jpg \
        examples/style_strokes.jpg -o /tmp/x8.jpg --size 8192 --max-memory 6G

Runs the command, reads the child's VmRSS and VmHWM (/proc/PID/status) every ``--every``
seconds, and prints one JSON line: the wall time, the peak (the child's ru_maxrss from wait4,
the kernel's own high-water mark, so no sample can miss it), the time the samples first saw it
within 64 MiB, the exit code, and the command's last line of stderr before then (nst's progress
line says which scale was running).
Only the child process is measured (nst runs in one process). Linux carries a parent's peak
over fork and exec into the child's ru_maxrss: this script is small (~20 MiB), so the figure is
the child's own; the VmHWM samples (per exec'd image) agree with it within their interval.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time


def status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, kb, _ = line.split()
                    out[key[:-1]] = int(kb) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    start = time.time()
    p = subprocess.Popen(args.command, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: list[str] = []

    def read() -> None:
        for line in p.stderr:  # tqdm's carriage returns: keep the latest piece
            lines.append(line.rstrip().split("\r")[-1])
            sys.stderr.write(line)

    threading.Thread(target=read, daemon=True).start()
    seen: list[tuple[float, int, str]] = []  # (seconds, VmHWM, the latest stderr line)
    while True:
        pid, code, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        s = status(p.pid)
        if s.get("VmHWM", 0) > (seen[-1][1] if seen else 0):
            seen.append((time.time() - start, s["VmHWM"], lines[-1] if lines else ""))
        time.sleep(args.every)
    p.returncode = os.waitstatus_to_exitcode(code)
    hwm = usage.ru_maxrss * 1024
    at, _, during = next((x for x in seen if x[1] >= hwm - (64 << 20)), (None, 0, ""))
    wall = time.time() - start
    print(json.dumps({"wall_s": round(wall, 1), "peak_gib": round(hwm / 2**30, 3), "peak_at_s": at and round(at, 1),
                      "during": during, "rc": p.returncode, "command": " ".join(args.command)}))


if __name__ == "__main__":
    main()
