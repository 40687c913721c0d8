"""Starting a server that daemonizes: the launched command returns, and the server's pid is then read
from its pid file, believed only for a new process of the expected binary in the expected directory."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_kind import ObserverKind
from obcp.agent.pid_file import CLOCK_SLACK, read_pid_file
from obcp.agent.process_record import TrackedProcess

POLL_SECONDS = 0.05


class ServerGone(Exception):
    """The start ended before the server could be waited for: the launcher failed, or the daemon it
    left behind is already gone."""

    def __init__(self, code: int | None, note: str | None = None) -> None:
        super().__init__(code, note)
        self.code = code
        self.note = note


@dataclass(frozen=True)
class PidBefore:
    """What the pid file said before the launch: a file still naming that pid is not rewritten yet."""

    text: str | None

    @classmethod
    def read(cls, kind: ObserverKind) -> PidBefore:
        try:
            return cls(kind.pid_file.read_text().strip())
        except OSError:
            return cls(None)


def wait_for_daemon(
    popen: subprocess.Popen[bytes], kind: ObserverKind, before: PidBefore, launched_at: float, deadline: float
) -> TrackedProcess:
    """The daemon's process once the launcher has returned 0 and the pid file names it; `launched_at` is
    wall-clock time, `deadline` monotonic."""
    try:
        code = popen.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=10)
        raise ObserverOperationError(
            "not_ready",
            f"{kind.program} {popen.args!r} did not return (daemonize) in time; it was killed",
            504,
        ) from None
    if code != 0:
        raise ServerGone(code)
    while True:
        finding = read_pid_file(kind.pid_file, kind.directory, kind.expected_exe())
        found = finding.process
        if found is not None and found.create_time >= launched_at - CLOCK_SLACK:
            return TrackedProcess(found.pid, found.create_time, started_here=True)
        if _rewritten(kind, before):
            # The daemon wrote its pid and is already gone (or is not what the file should name).
            raise ServerGone(None, finding.problem)
        if time.monotonic() > deadline:
            raise ObserverOperationError(
                "not_ready",
                f"{kind.program} returned 0 but {kind.pid_file} names no new process"
                + (f" ({finding.problem})" if finding.problem else ""),
                504,
            )
        time.sleep(POLL_SECONDS)


def _rewritten(kind: ObserverKind, before: PidBefore) -> bool:
    now = PidBefore.read(kind).text
    return bool(now) and now != before.text
