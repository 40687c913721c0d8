"""What a log line says about where it comes from: the traceId of the API call that caused it and, inside a
subtask run, the task, subtask and run. Context variables, so every coroutine and thread started from there
carries them without passing them by hand; shared by the server and the agent (which imports no server
code)."""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from dataclasses import dataclass

# The envelope's `traceId` (OCP's `x-trace-id`); the API's TraceMiddleware sets it per request.
trace_id_var: ContextVar[str] = ContextVar("obcp_trace_id", default="")

# OCP's header for the trace id on its agent calls; the server signs it with the rest of the request.
TRACE_HEADER = "X-OCP-Trace-ID"
_TRACE_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


def valid_trace_id(value: str | None) -> str:
    """The value if it is a well-formed trace id (it goes into logs), else ""."""
    return value if value and _TRACE_ID.fullmatch(value) else ""


@dataclass(frozen=True)
class RunFields:
    task_id: int
    subtask_id: int
    run: int


run_fields_var: ContextVar[RunFields | None] = ContextVar("obcp_run_fields", default=None)


@dataclass(frozen=True)
class Bound:
    trace: Token[str]
    run: Token[RunFields | None]


def bind_run(trace_id: str | None, task_id: int, subtask_id: int, run: int) -> Bound:
    """For the length of a subtask run: its task's traceId and the run's ids; `unbind` undoes it."""
    return Bound(trace_id_var.set(trace_id or ""), run_fields_var.set(RunFields(task_id, subtask_id, run)))


def unbind(bound: Bound) -> None:
    run_fields_var.reset(bound.run)
    trace_id_var.reset(bound.trace)
