"""Log rows: one per run of a subtask, each starting with OCP's header line for the run's operation."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from obcp.engine.logs import header
from obcp.engine.store.columns import L
from obcp.meta.db import inserted_id, now_ms
from obcp.meta.task_tables import subtask_log

_INSERT_LOG = insert(subtask_log)
_UPDATE_LOG = (
    update(subtask_log)
    .where(L.id == bindparam("b_id"))
    .values(content=bindparam("b_content"), updated_at=bindparam("b_now"))
)


class Run(Protocol):
    """What a log row needs to know of a claimed run; its row id is kept here once the row exists."""

    id: int
    run_time: int
    operation: str
    started_at: int
    log_id: int | None


def with_header(operation: str, started_at: int, body: str) -> str:
    prefix = header(operation, started_at)
    return f"{prefix}\n{body}" if body else prefix


def insert_log_row(
    conn: Connection, sid: int, run_time: int, operation: str, started_at: int, body: str
) -> int:
    """The one place a log row is created: its header, then `body`."""
    now = now_ms()
    res = conn.execute(
        _INSERT_LOG,
        {
            "subtask_id": sid,
            "run_time": run_time,
            "operation": operation,
            "content": with_header(operation, started_at, body),
            "created_at": now,
            "updated_at": now,
        },
    )
    return inserted_id(res)


def save_run_log(conn: Connection, run: Run, body: str) -> None:
    """Write a run's log text under its header: its row is created the first time (the caller serialises
    writes per run)."""
    if run.log_id is not None:
        _write_log(conn, run.log_id, with_header(run.operation, run.started_at, body))
        return
    run.log_id = insert_log_row(conn, run.id, run.run_time, run.operation, run.started_at, body)


def append_log_line(conn: Connection, sid: int, line: str, run_time: int, operation: str) -> None:
    """Add a line to the log of the subtask's current run (creating it if the run never flushed one)."""
    last = (
        conn.execute(
            select(L.id, L.content, L.run_time).where(L.subtask_id == sid).order_by(L.id.desc()).limit(1)
        )
    ).first()
    if last is not None and last.run_time == run_time:
        _write_log(conn, last.id, f"{last.content}\n{line}")
        return
    insert_log_row(conn, sid, run_time, operation, now_ms(), line)


def _write_log(conn: Connection, log_id: int, content: str) -> None:
    conn.execute(_UPDATE_LOG, {"b_id": log_id, "b_content": content, "b_now": now_ms()})
