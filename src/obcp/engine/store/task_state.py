"""The task row: the lock that serialises a task's transitions, and its state settled from its subtasks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from obcp.engine.hooks import task_settled
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.store.columns import ACTIVE, S, T, one_of
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import now_ms
from obcp.meta.task_tables import resource_lock, task_instance

_LOCK_TASK = update(task_instance).where(T.id == bindparam("b_task")).values(version=T.version + 1)


def lock_task(conn: Connection, task_id: int) -> None:
    """Bump the task's version: every transaction that changes its subtasks does this first."""
    res = conn.execute(_LOCK_TASK, {"b_task": task_id})
    if res.rowcount != 1:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)


def settle_task_state(conn: Connection, task_id: int, known: tuple[str, bool] | None = None) -> str:
    """Settle the task's state from its subtasks: RUNNING while any is active, else SUCCESSFUL or FAILED.
    A SUCCESSFUL task drops its locks. A task that enters FAILED or SUCCESSFUL is told to the transaction's
    settle listener (`hooks`). `known` = (current state, in rollback) when the caller knows them,
    to save a query."""
    if known is None:
        row = (conn.execute(select(T.state, T.operation).where(T.id == task_id))).one()
        current, rolling_back = row.state, row.operation == Operation.ROLLBACK.value
    else:
        current, rolling_back = known
    new = _state_from_subtasks(conn, task_id, rolling_back)
    if new != current:
        now = now_ms()
        values: dict[str, Any] = {"state": new, "updated_at": now}
        values["end_time"] = None if new == TaskState.RUNNING.value else now
        conn.execute(update(task_instance).where(T.id == task_id).values(**values))
        if new != TaskState.RUNNING.value:
            task_settled(conn, task_id)
    if new == TaskState.SUCCESSFUL.value:
        conn.execute(delete(resource_lock).where(resource_lock.c.task_id == task_id))
    return new


def _state_from_subtasks(conn: Connection, task_id: int, rolling_back: bool) -> str:
    active = conn.scalar(select(S.id).where(S.task_id == task_id, one_of(S.state, ACTIVE)).limit(1))
    if active is not None:
        return TaskState.RUNNING.value
    # Going forward every subtask ends SUCCESSFUL; a completed rollback leaves them all PENDING.
    done = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
    left = conn.scalar(select(S.id).where(S.task_id == task_id, S.state != done.value).limit(1))
    return TaskState.SUCCESSFUL.value if left is None else TaskState.FAILED.value
