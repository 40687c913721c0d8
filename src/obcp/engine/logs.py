"""Per-run subtask logs in OCP's format, captured from ordinary `logging` calls made while a run is active.

A run's log starts with `############{EXECUTE}{2021-08-25T15:09:32.697+08:00}############`, then one line
per log record (`2021-08-25 15:09:32.716  INFO 57200 --- [subtask-13000335] obcp.ob.x : text`), and ends
with `Set state for subtask: <id>, current state: RUNNING, new state: SUCCESSFUL`. The scheduler writes the
buffer to the run's row every flush interval, so the log endpoint shows a live run.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from datetime import datetime

from obcp.engine.context import MASK
from obcp.timefmt import iso_ms

MAX_RUN_LOG = 256 * 1024  # OCP stores a run's log in varbinary(256K)

current_run: ContextVar[RunLog | None] = ContextVar("obcp_subtask_run", default=None)


def header(operation: str, epoch_ms: int) -> str:
    return f"############{{{operation}}}{{{iso_ms(epoch_ms)}}}############"


def state_line(sid: int, old: str, new: str, operation: str | None = None) -> str:
    return f"Set state for subtask: {sid}, current state: {old}, new state: {new}"


class RunLog:
    """The text of one run; `dirty` tells the flusher there is something new to write."""

    def __init__(self, subtask_id: int, secrets: list[str]) -> None:
        self.subtask_id = subtask_id
        self.lines: list[str] = []
        self.size = 0
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        self.dirty = False
        self.truncated = False

    def add(self, line: str) -> None:
        for secret in self.secrets:
            line = line.replace(secret, MASK)
        if self.size + len(line) > MAX_RUN_LOG:
            if not self.truncated:
                self.lines.append("... (log truncated)")
                self.truncated = True
                self.dirty = True
            return
        self.lines.append(line)
        self.size += len(line) + 1
        self.dirty = True

    def text(self) -> str:
        return "\n".join(self.lines)


class _RunFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S")
        millis = int(record.msecs)
        run = current_run.get()
        thread = f"subtask-{run.subtask_id}" if run else record.threadName
        level = f"{record.levelname:>5}"
        text = (
            f"{stamp}.{millis:03d} {level} {os.getpid()} --- [{thread}] {record.name} : {record.getMessage()}"
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class RunLogHandler(logging.Handler):
    """Routes records emitted inside a run (by any logger) to that run's log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(_RunFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        run = current_run.get()
        if run is None:
            return
        try:
            run.add(self.format(record))
        except Exception:  # a log line must never fail the subtask
            self.handleError(record)


_installed = False


def install() -> None:
    """Attach the capturing handlers once per process.

    Subtask loggers (`obcp.task.*`) write only to their run's log, whatever the server's log level, so an
    operator sees every line through the API without flooding the server log; records of any other logger
    emitted inside a run are copied into the run's log too and still reach the server's own handlers.
    """
    global _installed
    if _installed:
        return
    root = logging.getLogger()
    if not root.handlers:
        # Without this, adding our handler would silence logging's last-resort output of warnings.
        fallback = logging.StreamHandler()
        fallback.setLevel(logging.WARNING)
        root.addHandler(fallback)
    root.addHandler(RunLogHandler())
    task_root = logging.getLogger(TASK_LOGGER)
    task_root.setLevel(logging.INFO)
    task_root.propagate = False
    task_root.addHandler(RunLogHandler())
    _installed = True


TASK_LOGGER = "obcp.task"


def subtask_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{TASK_LOGGER}.{name}")
