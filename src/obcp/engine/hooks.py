"""The one hook the engine offers its host: a listener told, inside the very transaction that settles a
task to a final state (FAILED or SUCCESSFUL), which task that was. The server wires the notification outbox
in here (`Engine(on_settled=...)`), so the outbox row commits or rolls back with the state change itself,
while the engine knows nothing of channels or deliveries.

The listener gets only the task's own columns and the transaction's connection; it must be quick (a few
statements) and must not do I/O beyond them: it runs inside the engine's write transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from obcp.meta.task_tables import task_instance

# The key under which a transaction's connection carries the listener (an execution option, so that it
# rides with the connection through every store function without another parameter).
OPTION = "obcp_on_task_settled"


@dataclass(frozen=True)
class SettledTask:
    id: int
    name: str
    state: str
    operation: str
    cluster_id: int | None
    creator: str
    trace_id: str | None
    created_at: int
    end_time: int | None


SettleListener = Callable[[Connection, SettledTask], None]


def with_listener(conn: Connection, listener: SettleListener | None) -> Connection:
    if listener is not None:
        conn.execution_options(**{OPTION: listener})
    return conn


def task_settled(conn: Connection, task_id: int) -> None:
    """Tell the transaction's listener, if it has one, that the task has just settled to a final state."""
    listener = conn.get_execution_options().get(OPTION)
    if listener is None:
        return
    t = task_instance.c
    row = conn.execute(
        select(
            t.id, t.name, t.state, t.operation, t.cluster_id, t.creator, t.trace_id, t.created_at, t.end_time
        ).where(t.id == task_id)
    ).one()
    listener(
        conn,
        SettledTask(
            id=int(row.id),
            name=str(row.name),
            state=str(row.state),
            operation=str(row.operation),
            cluster_id=None if row.cluster_id is None else int(row.cluster_id),
            creator=str(row.creator),
            trace_id=row.trace_id,
            created_at=int(row.created_at),
            end_time=None if row.end_time is None else int(row.end_time),
        ),
    )
