"""OCP's task and subtask states and operations, with the same names and values as OCP's task API."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    SUCCESSFUL = "SUCCESSFUL"


class SubtaskState(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    FAILED = "FAILED"
    SUCCESSFUL = "SUCCESSFUL"


class Operation(StrEnum):
    EXECUTE = "EXECUTE"
    RETRY = "RETRY"
    ROLLBACK = "ROLLBACK"
    SKIP = "SKIP"
    CANCEL = "CANCEL"


# States in which a subtask is held by a replica's lease.
LEASED = (SubtaskState.RUNNING, SubtaskState.CANCELING)
