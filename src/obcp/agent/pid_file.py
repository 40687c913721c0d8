"""Believing a pid file: which running process, if any, is the observer it names, and why not.

Pid files outlive their process (seekdb and OceanBase leave them behind), so a pid counts only if that
process is not a zombie, runs in the observer's directory, runs the expected binary (where the kind names
one), and was created before the file was written. A pid that fails is reported and never signalled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from obcp.agent.process_record import TrackedProcess

# psutil's start times and file mtimes come from different clocks, which disagree by well under 1 s.
CLOCK_SLACK = 1.0


@dataclass(frozen=True)
class PidFileFinding:
    process: TrackedProcess | None
    # Why the pid in the file is not believed (None when there is no file or it is believed).
    problem: str | None = None
    # The pid has simply exited: what every stop leaves behind, since the observers do not remove the file.
    exited: bool = False


def same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_pid_file(pid_file: Path, directory: Path, expected_exe: Path | None) -> PidFileFinding:
    try:
        text = pid_file.read_text().strip()
        written = pid_file.stat().st_mtime
    except FileNotFoundError:
        return PidFileFinding(None)
    except OSError as exc:
        return PidFileFinding(None, f"cannot read {pid_file}: {exc}")
    if not text.isdigit():
        return PidFileFinding(None, f"{pid_file} holds no pid ({text[:40]!r})")
    return check_pid(int(text), written, pid_file, directory, expected_exe)


def check_pid(
    pid: int, written: float, pid_file: Path, directory: Path, expected_exe: Path | None
) -> PidFileFinding:
    named = f"pid {pid} of {pid_file}"
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return _exited(named)
        created = proc.create_time()
        cwd = proc.cwd()
        exe = f"/proc/{pid}/exe"
        exe_name = proc.exe() if expected_exe is not None else ""
    except psutil.NoSuchProcess:
        return _exited(named)
    except psutil.AccessDenied:
        return PidFileFinding(
            None, f"{named} belongs to a process of another user: not this observer, left alone"
        )
    if not same_file(cwd, directory):
        return PidFileFinding(
            None, f"{named} runs in {cwd}, not in {directory}: not this observer, left alone"
        )
    if expected_exe is not None and not same_file(exe, expected_exe):
        return PidFileFinding(
            None,
            f"{named} runs {exe_name or 'an unknown binary'}, not {expected_exe}: another binary, left alone",
        )
    if created > written + CLOCK_SLACK:
        return PidFileFinding(
            None,
            f"{named} was started after the file was written: a stale pid file whose pid was reused, "
            "left alone",
        )
    return PidFileFinding(TrackedProcess(pid, created))


def _exited(named: str) -> PidFileFinding:
    return PidFileFinding(None, f"{named} is not running (a stale pid file, left as it is)", exited=True)
