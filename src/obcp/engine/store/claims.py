"""Claims and leases: READY → RUNNING for one owner, the run's input, and the heartbeat that keeps it.

A claim names the version it read; `version` is bumped whenever ownership changes, so it fences out a stale
runner, and the rowcount of the guarded update says whether this owner won.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from obcp.engine.context import Context
from obcp.engine.logs import state_line
from obcp.engine.states import Operation, SubtaskState
from obcp.engine.store.clock import db_now_ms
from obcp.engine.store.columns import LEASED_VALUES, TASK_VERSION_NOW, S, one_of
from obcp.engine.store.inputs import input_context
from obcp.engine.store.promotion import CLAIM_COLUMNS
from obcp.engine.store.run_logs import insert_log_row
from obcp.engine.store.task_state import lock_task, settle_task_state
from obcp.errors import ObcpError
from obcp.meta.db import Database, now_ms
from obcp.meta.task_tables import subtask_instance
from obcp.timefmt import iso_ms


@dataclass
class Claimed:
    id: int
    task_id: int
    name: str
    class_name: str
    operation: str
    run_time: int
    retry_count: int
    timeout: int
    version: int
    log_id: int | None
    context: Context
    started_at: int
    params: dict[str, str] = field(default_factory=dict)
    trace_id: str | None = None
    waited_ms: int = 0  # READY until this claim (0 when claimed straight from PENDING)


@dataclass(frozen=True)
class Claimant:
    """Who claims: the owner, the lease it takes, and the subtask classes it can run (None: any)."""

    owner: str
    lease_ms: int
    classes: frozenset[str] | None = None


async def ready_candidates(
    db: Database, classes: list[str], exclude: Iterable[int], limit: int
) -> list[tuple[int, int]]:
    skip = set(exclude)
    async with db.read() as conn:
        rows = await conn.execute(
            select(S.id, S.version)
            .where(S.state == SubtaskState.READY.value, S.class_name.in_(classes))
            .order_by(S.id)
            .limit(limit + len(skip))
        )
        return [(r.id, r.version) for r in rows if r.id not in skip][:limit]


def _claim_statement(guard: Any) -> Any:
    return (
        update(subtask_instance)
        .where(S.id == bindparam("b_id"), guard, S.version == bindparam("b_version"))
        .values(
            state=SubtaskState.RUNNING.value,
            owner=bindparam("b_owner"),
            executor=bindparam("b_owner"),
            version=bindparam("b_version", type_=Integer) + 1,
            # The metadb's clock, not this host's: see `clock`.
            lease_expire_at=db_now_ms() + bindparam("b_lease_ms", type_=Integer),
            deadline_at=db_now_ms() + bindparam("b_timeout_ms", type_=Integer),
            start_time=bindparam("b_now"),
            end_time=None,
            updated_at=bindparam("b_now"),
            task_version=TASK_VERSION_NOW,
        )
    )


# The hot path's statements, built once: building a Core statement costs more than SQLite runs it.
_CLAIM_READY = _claim_statement(S.state == SubtaskState.READY.value)
_CLAIM_PENDING = _claim_statement(and_(S.state == SubtaskState.PENDING.value, S.waiting == 0))


def claim(
    conn: Connection,
    sid: int,
    version: int,
    owner: str,
    lease_ms: int,
    classes: frozenset[str] | None = None,
    row: Any = None,
    parent_output: Context | None = None,
    from_pending: bool = False,
) -> Claimed | None:
    """READY → RUNNING for `owner` iff nobody else moved it, with this run's input. `row` (CLAIM_COLUMNS,
    read in the same transaction, which has locked the task) saves a query; `from_pending` claims a
    subtask promoted in this same transaction straight from PENDING (once nothing waits)."""
    now = now_ms()
    if row is None:
        row = _ready_row(conn, sid, version)
        if row is None or (classes is not None and row.class_name not in classes):
            return None
        lock_task(conn, row.task_id)
    elif classes is not None and row.class_name not in classes:
        return None
    if not _take_lease(conn, row, version, owner, lease_ms, now, from_pending):
        return None
    try:
        ctx = _run_input(conn, row, parent_output)
    except ObcpError as exc:
        _fail_before_run(conn, row, version, exc.message, now)
        return None
    ctx.parallel_idx = row.parallel_idx
    ctx.put("latest_execution_start_time", iso_ms(now))
    # The run's log row is written at the first flush or at the end, which saves a statement per run.
    return Claimed(
        id=sid,
        task_id=row.task_id,
        name=row.name,
        class_name=row.class_name,
        operation=row.operation,
        run_time=row.run_time,
        retry_count=row.retry_count,
        timeout=row.timeout,
        version=version + 1,
        log_id=None,
        context=ctx,
        started_at=now,
        params=json.loads(row.params) if row.params else {},
        trace_id=row.trace_id,
        waited_ms=0 if from_pending else max(0, now - row.updated_at),
    )


def claim_rows(
    conn: Connection,
    rows: Iterable[Any],
    who: Claimant,
    *,
    promoted: bool = False,
    parent_output: Context | None = None,
) -> list[Claimed]:
    """Claim each of `rows` (CLAIM_COLUMNS) that is still free: READY ones, or with `promoted` those just
    promoted in this transaction (still PENDING), whose single upstream's output is `parent_output`."""
    claimed = (
        claim(conn, r.id, r.version, who.owner, who.lease_ms, who.classes, r, parent_output, promoted)
        for r in rows
    )
    return [c for c in claimed if c is not None]


def _ready_row(conn: Connection, sid: int, version: int) -> Any:
    ready = (S.id == sid, S.state == SubtaskState.READY.value, S.version == version)
    query = select(*CLAIM_COLUMNS).where(*ready)
    return conn.execute(query).first()


def _take_lease(
    conn: Connection, row: Any, version: int, owner: str, lease_ms: int, now: int, from_pending: bool
) -> bool:
    won = conn.execute(
        _CLAIM_PENDING if from_pending else _CLAIM_READY,
        {
            "b_id": row.id,
            "b_version": version,
            "b_owner": owner,
            "b_lease_ms": lease_ms,
            "b_timeout_ms": row.timeout * 1000,
            "b_now": now,
        },
    )
    return bool(won.rowcount == 1)


def _run_input(conn: Connection, row: Any, parent_output: Context | None) -> Context:
    """A rollback undoes what the step recorded when it ran (e.g. "this task stopped zone z1"), which is in
    its own output; any other run gets its input from upstream (the one upstream's output as it stands)."""
    if row.operation == Operation.ROLLBACK.value:
        own = conn.scalar(select(S.context).where(S.id == row.id))
        if own:
            return Context.from_json(own)
    if parent_output is not None and row.upstreams == 1:
        return parent_output.copy()
    return input_context(conn, row.id, row.task_id)


def _fail_before_run(conn: Connection, row: Any, version: int, reason: str, now: int) -> None:
    """Upstream outputs that contradict each other fail this subtask, for an operator to look at."""
    conn.execute(
        update(subtask_instance)
        .where(S.id == row.id, S.version == version + 1)
        .values(
            state=SubtaskState.FAILED.value,
            owner=None,
            lease_expire_at=None,
            version=version + 2,
            error=reason[:1000],
            end_time=now,
            updated_at=now,
            task_version=TASK_VERSION_NOW,
        )
    )
    line = state_line(row.id, SubtaskState.RUNNING.value, SubtaskState.FAILED.value)
    insert_log_row(conn, row.id, row.run_time, row.operation, now, f"{reason}\n{line}")
    settle_task_state(conn, row.task_id)


def heartbeat(conn: Connection, owner: str, runs: dict[int, int], lease_ms: int) -> tuple[set[int], set[int]]:
    """Extend the leases of these runs ({id: version}) in one statement, whatever their number; returns
    (lost, cancel requested): a run is lost when its row has another owner or version, or is no longer
    leased."""
    if not runs:
        return set(), set()
    ids = list(runs)
    conn.execute(
        update(subtask_instance)
        .where(S.id.in_(ids), S.owner == owner, one_of(S.state, LEASED_VALUES))
        .values(lease_expire_at=db_now_ms() + lease_ms)
    )
    rows = conn.execute(select(S.id, S.owner, S.version, S.state).where(S.id.in_(ids))).all()
    held = {
        r.id: r for r in rows if r.owner == owner and r.version == runs[r.id] and r.state in LEASED_VALUES
    }
    lost = set(ids) - set(held)
    canceling = {sid for sid, r in held.items() if r.state == SubtaskState.CANCELING.value}
    return lost, canceling
