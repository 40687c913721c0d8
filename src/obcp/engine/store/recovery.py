"""Recovery: leased runs whose owner died, got stuck or ran past its deadline are taken away from it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection

from obcp.engine.logs import state_line
from obcp.engine.states import Operation, SubtaskState
from obcp.engine.store.clock import db_now_ms
from obcp.engine.store.columns import LEASED_VALUES, TASK_VERSION_NOW, S, one_of
from obcp.engine.store.run_logs import append_log_line
from obcp.engine.store.task_state import lock_task, settle_task_state
from obcp.meta.db import Database, now_ms
from obcp.meta.task_tables import subtask_instance


async def expired(db: Database, owner_restarted: str | None, limit: int = 200) -> list[Any]:
    """Leased runs whose lease ran out by the metadb's clock (or whose owner is this server in a previous
    life, at start-up)."""
    cond = and_(one_of(S.state, LEASED_VALUES), S.lease_expire_at < db_now_ms())
    if owner_restarted is not None:
        cond = and_(
            one_of(S.state, LEASED_VALUES), (S.lease_expire_at < db_now_ms()) | (S.owner == owner_restarted)
        )
    async with db.read() as conn:
        return list(
            (await conn.execute(select(S.id, S.task_id, S.version, S.owner).where(cond).limit(limit))).all()
        )


async def overdue(db: Database, grace_ms: int, limit: int = 200) -> list[Any]:
    """Runs still RUNNING `grace_ms` after their deadline (by the metadb's clock), whoever owns them."""
    query = (
        select(S.id, S.task_id, S.version, S.owner)
        .where(S.state == SubtaskState.RUNNING.value, S.deadline_at < db_now_ms() - grace_ms)
        .limit(limit)
    )
    async with db.read() as conn:
        return list((await conn.execute(query)).all())


def interrupt(
    conn: Connection, sid: int, version: int, task_id: int, reason: str, *, timed_out: bool = False
) -> bool:
    """Take a leased run away from its (dead, stuck or overdue) owner: run it again if it is safe to repeat,
    else FAILED with the reason, for an operator to retry or skip."""
    now = now_ms()
    lock_task(conn, task_id)
    leased = and_(S.id == sid, S.version == version, one_of(S.state, LEASED_VALUES))
    row = conn.execute(select(S.state, S.operation, S.run_time, S.continue_after_crash).where(leased)).first()
    if row is None:
        return False
    rerun = row.continue_after_crash and row.state == SubtaskState.RUNNING.value and not timed_out
    values: dict[str, Any] = {
        "owner": None,
        "lease_expire_at": None,
        "deadline_at": None,
        "version": version + 1,
        "updated_at": now,
        "task_version": TASK_VERSION_NOW,
    }
    if rerun:
        values.update(state=SubtaskState.READY.value, run_time=row.run_time + 1, end_time=None)
        line = f"{reason}; the subtask is safe to repeat and runs again"
    else:
        values.update(state=SubtaskState.FAILED.value, error=reason[:1000], end_time=now)
        if row.state == SubtaskState.CANCELING.value:
            values["operation"] = Operation.CANCEL.value
        line = f"{reason}\n{state_line(sid, row.state, SubtaskState.FAILED.value, row.operation)}"
    if conn.execute(update(subtask_instance).where(leased).values(**values)).rowcount != 1:
        return False
    append_log_line(conn, sid, line, row.run_time, row.operation)
    settle_task_state(conn, task_id)
    return True
