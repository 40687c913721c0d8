"""What a subtask entering or leaving SUCCESSFUL (or PENDING, in a rollback) does to its neighbours.

`waiting` on a subtask counts its upstreams that are not SUCCESSFUL; it is adjusted whenever a subtask
enters or leaves SUCCESSFUL, so promoting a join costs one indexed update, not a scan of its upstreams.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from obcp.engine.states import Operation, SubtaskState
from obcp.engine.store.columns import TASK_VERSION_NOW, D, S, T
from obcp.meta.db import now_ms
from obcp.meta.task_tables import subtask_dependency, subtask_instance

# The columns a claim reads of a subtask; a promotion returns them so the caller can claim without a query.
CLAIM_COLUMNS = (
    S.id,
    S.version,
    S.task_id,
    S.name,
    S.class_name,
    S.operation,
    S.run_time,
    S.retry_count,
    S.timeout,
    S.parallel_idx,
    S.upstreams,
    S.params,
    S.updated_at,  # when a READY subtask became READY: the claim measures how long it waited
    # The traceId of the API call that made the task, for the run's log lines.
    select(T.trace_id).where(T.id == S.task_id).scalar_subquery().label("trace_id"),
)

_CHILDREN_OF = select(*CLAIM_COLUMNS, S.waiting, S.state).where(
    S.id.in_(select(D.child_id).where(D.parent_id == bindparam("b_parent")))
)
_WAITING_DOWN = (
    update(subtask_instance).where(S.id.in_(bindparam("b_ids", expanding=True))).values(waiting=S.waiting - 1)
)
# On PostgreSQL the decrement returns the children as it leaves them: one round trip instead of two.
_WAITING_DOWN_RETURNING = (
    update(subtask_instance)
    .where(S.id.in_(select(D.child_id).where(D.parent_id == bindparam("b_parent"))))
    .values(waiting=S.waiting - 1)
    .returning(*CLAIM_COLUMNS, (S.waiting + 1).label("waiting"), S.state)
)
_DONE = (SubtaskState.SUCCESSFUL.value, SubtaskState.FAILED.value)


def entered_successful(conn: Connection, sid: int, defer: bool = False) -> list[Any]:
    """A subtask became SUCCESSFUL: its children wait for one upstream less; those waiting for none start.
    Returns them (CLAIM_COLUMNS): READY with their new version, or, with `defer`, still PENDING for the
    caller to claim or make READY in the same transaction."""
    if conn.dialect.name == "postgresql":
        # `waiting` as it was before the decrement, as the two-statement form reads it.
        children = conn.execute(_WAITING_DOWN_RETURNING, {"b_parent": sid}).all()
    else:
        children = conn.execute(_CHILDREN_OF, {"b_parent": sid}).all()
        if children:
            conn.execute(_WAITING_DOWN, {"b_ids": [c.id for c in children]})
    if not children:
        return []
    # The task row lock serialises this read-then-write with every other transition of the task.
    ready = [
        c
        for c in children
        if c.waiting == 1
        and c.state == SubtaskState.PENDING.value
        and c.operation != Operation.ROLLBACK.value
    ]
    if defer or not ready:
        return ready
    make_ready(conn, [r.id for r in ready])
    return [_bumped(r) for r in ready]


def make_ready(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(
            update(subtask_instance)
            .where(S.id.in_(ids), S.state == SubtaskState.PENDING.value)
            .values(
                state=SubtaskState.READY.value,
                version=S.version + 1,
                updated_at=now_ms(),
                task_version=TASK_VERSION_NOW,
            )
        )


def _bumped(row: Any) -> Any:
    """The row as it is after the promotion bumped its version."""
    values = row._asdict()
    values["version"] += 1
    return SimpleNamespace(**values)


def _left_successful(conn: Connection, sids: list[int]) -> None:
    for sid in sids:
        children = list((conn.execute(select(D.child_id).where(D.parent_id == sid))).scalars())
        if children:
            conn.execute(update(subtask_instance).where(S.id.in_(children)).values(waiting=S.waiting + 1))


def promote_rollback_parents(conn: Connection, sid: int) -> None:
    """In a rollback, a subtask whose downstreams are all PENDING again is rolled back next."""
    parents = list((conn.execute(select(D.parent_id).where(D.child_id == sid))).scalars())
    promote_rollback(conn, parents)


def promote_rollback(conn: Connection, candidates: list[int]) -> None:
    """Make READY (to roll back) those of `candidates` that ran and whose downstreams are all PENDING."""
    if not candidates:
        return
    child = subtask_instance.alias("child")
    busy_children = (
        select(D.parent_id)
        .select_from(subtask_dependency.join(child, child.c.id == D.child_id))
        .where(D.parent_id.in_(candidates), child.c.state != SubtaskState.PENDING.value)
    )
    rows = (
        conn.execute(
            select(S.id, S.state).where(
                S.id.in_(candidates),
                S.operation == Operation.ROLLBACK.value,
                S.state.in_(_DONE),
                S.id.not_in(busy_children),
            )
        )
    ).all()
    if not rows:
        return
    conn.execute(
        update(subtask_instance)
        .where(S.id.in_([r.id for r in rows]), S.state.in_(_DONE))
        .values(
            state=SubtaskState.READY.value,
            version=S.version + 1,
            updated_at=now_ms(),
            task_version=TASK_VERSION_NOW,
        )
    )
    _left_successful(conn, [r.id for r in rows if r.state == SubtaskState.SUCCESSFUL.value])
