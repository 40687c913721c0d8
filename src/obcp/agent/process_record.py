"""What the agent remembers about an observer process: its identity (and whether that very process still
runs), how it last ended, an op's result."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

# psutil reports start times rounded; a pid whose start time differs by more was reused by another process.
CREATE_TIME_TOLERANCE = 0.01


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def describe_exit(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def live_process(pid: int, create_time: float) -> psutil.Process | None:
    """That very process (pid and start time) if it still runs and is not a zombie; else None."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > CREATE_TIME_TOLERANCE:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


@dataclass
class TrackedProcess:
    pid: int
    create_time: float
    # Set when this agent started the process: it must reap it, and it learns its exit code.
    popen: subprocess.Popen[bytes] | None = None
    # True for a daemon this agent launched: it has no popen, and its exit code is nobody's to learn.
    started_here: bool = False


@dataclass
class LastExit:
    pid: int
    code: int | None
    at: float
    by_agent: bool
    started_here: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.by_agent:
            how = "stopped by the agent"
        elif self.code is None and self.started_here:
            how = "exited without being asked to stop (a daemon: its exit code is not known)"
        elif self.code is None:
            how = "exited while not started by this agent (exit code unknown)"
        else:
            how = f"{describe_exit(self.code)} without being asked to stop"
        return {"pid": self.pid, "exitCode": self.code, "at": iso_time(self.at), "description": how}


@dataclass
class OperationResult:
    message: str
    changed: bool
    elapsed_seconds: float
