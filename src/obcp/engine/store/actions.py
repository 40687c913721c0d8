"""An operator's actions on a task: retry, rollback, and on one subtask retry, skip and cancel.

Each checks OCP's preconditions under the task's row lock and answers a wrong state with 4007.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from obcp.engine.context import Context
from obcp.engine.logs import state_line
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.store.columns import TASK_VERSION_NOW, S, T
from obcp.engine.store.inputs import input_context
from obcp.engine.store.promotion import entered_successful, promote_rollback, promote_rollback_parents
from obcp.engine.store.run_logs import insert_log_row
from obcp.engine.store.task_state import lock_task, settle_task_state
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import now_ms
from obcp.meta.task_tables import subtask_instance, task_instance


def _task_row(conn: Connection, task_id: int) -> Any:
    row = (conn.execute(select(task_instance).where(T.id == task_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    return row


def _subtask_row(conn: Connection, task_id: int, sid: int) -> Any:
    row = (conn.execute(select(subtask_instance).where(S.id == sid, S.task_id == task_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.SUBTASK_NOT_FOUND, sid, task_id)
    return row


def _run_failed_again(conn: Connection, *which: ColumnElement[bool]) -> None:
    """FAILED → READY / RETRY with runTime + 1, for the FAILED subtasks that `which` selects."""
    conn.execute(
        update(subtask_instance)
        .where(S.state == SubtaskState.FAILED.value, *which)
        .values(
            state=SubtaskState.READY.value,
            operation=Operation.RETRY.value,
            run_time=S.run_time + 1,
            version=S.version + 1,
            error=None,
            end_time=None,
            updated_at=now_ms(),
            task_version=TASK_VERSION_NOW,
        )
    )


def retry_task(conn: Connection, task_id: int) -> None:
    """Re-run every FAILED subtask (OCP: task FAILED and not rolling back)."""
    lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    if task.state != TaskState.FAILED.value or task.operation == Operation.ROLLBACK.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, task_id, f"{task.state}/{task.operation}")
    failed = conn.execute(
        select(S.id, S.can_retry).where(S.task_id == task_id, S.state == SubtaskState.FAILED.value)
    ).all()
    for row in failed:
        if not row.can_retry:
            raise ObcpError(ErrorCode.SUBTASK_RETRY_PROHIBITED, row.id)
    _run_failed_again(conn, S.task_id == task_id)
    conn.execute(
        update(task_instance)
        .where(T.id == task_id)
        .values(operation=Operation.RETRY.value, updated_at=now_ms())
    )
    settle_task_state(conn, task_id)


def rollback_prohibited(conn: Connection, task: Any) -> bool:
    if task.prohibit_rollback or Context.from_json(task.context).get("prohibit_rollback") == "true":
        return True
    started = conn.scalar(
        select(S.id)
        .where(
            S.task_id == task.id,
            S.prohibit_rollback.is_(True),
            S.state.not_in((SubtaskState.PENDING.value, SubtaskState.READY.value)),
        )
        .limit(1)
    )
    return started is not None


def rollback_task(conn: Connection, task_id: int) -> None:
    """Give up: undo every subtask that ran, from the failure back to the roots (OCP: task FAILED)."""
    lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    if task.state != TaskState.FAILED.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, task_id, task.state)
    if rollback_prohibited(conn, task):
        raise ObcpError(ErrorCode.TASK_ROLLBACK_PROHIBITED, task_id)
    now = now_ms()
    started = (S.task_id == task_id, S.state != SubtaskState.PENDING.value)
    conn.execute(
        update(subtask_instance)
        .where(*started)
        .values(operation=Operation.ROLLBACK.value, updated_at=now, task_version=TASK_VERSION_NOW)
    )
    conn.execute(
        update(task_instance)
        .where(T.id == task_id)
        .values(operation=Operation.ROLLBACK.value, updated_at=now)
    )
    promote_rollback(conn, list(conn.execute(select(S.id).where(*started)).scalars()))
    settle_task_state(conn, task_id)


def retry_subtask(conn: Connection, task_id: int, sid: int) -> None:
    lock_task(conn, task_id)
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.FAILED.value or row.operation == Operation.ROLLBACK.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", f"{row.state}/{row.operation}")
    if not row.can_retry:
        raise ObcpError(ErrorCode.SUBTASK_RETRY_PROHIBITED, sid)
    _run_failed_again(conn, S.id == sid, S.version == row.version)
    settle_task_state(conn, task_id)


def skip_subtask(conn: Connection, task_id: int, sid: int, by: str) -> None:
    """Mark a FAILED subtask done without running it: SUCCESSFUL going forward, PENDING in a rollback."""
    lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.FAILED.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", row.state)
    if not row.can_skip:
        raise ObcpError(ErrorCode.SUBTASK_SKIP_PROHIBITED, sid)
    now = now_ms()
    rolling_back = task.operation == Operation.ROLLBACK.value
    new = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
    # A skipped step produced nothing: its downstreams get its input as its output.
    passed_on = input_context(conn, sid, task_id, strict=False).to_json() if not rolling_back else row.context
    conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.state == SubtaskState.FAILED.value, S.version == row.version)
        .values(
            context=passed_on,
            state=new.value,
            operation=Operation.SKIP.value,
            version=S.version + 1,
            error=None,
            end_time=now,
            updated_at=now,
            task_version=TASK_VERSION_NOW,
        )
    )
    body = f"Skipped by {by}\n{state_line(sid, row.state, new.value)}"
    insert_log_row(conn, sid, row.run_time, Operation.SKIP.value, now, body)
    if rolling_back:
        promote_rollback_parents(conn, sid)
    else:
        entered_successful(conn, sid)
    settle_task_state(conn, task_id)


def cancel_subtask(conn: Connection, task_id: int, sid: int) -> Any:
    """RUNNING → CANCELING; the owner (told by its heartbeat, or at once when local) interrupts the run."""
    lock_task(conn, task_id)
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.RUNNING.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", row.state)
    if not row.can_cancel:
        raise ObcpError(ErrorCode.SUBTASK_CANCEL_PROHIBITED, sid)
    # The version stays: it is the running owner's fencing token, and the owner records the cancellation.
    res = conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.state == SubtaskState.RUNNING.value, S.version == row.version)
        .values(state=SubtaskState.CANCELING.value, updated_at=now_ms(), task_version=TASK_VERSION_NOW)
    )
    if res.rowcount != 1:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", "changing")
    return row
