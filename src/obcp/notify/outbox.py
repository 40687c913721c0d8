"""What an event writes to the outbox, in the event's own transaction: one delivery row per subscribed
channel. `task_settled` is the engine's settle listener (the server wires it in with
`Engine(on_settled=...)`); `parameters_pending` is called by a parameter change's transaction. Both only
read the channels and insert rows: nothing here waits for a receiver."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from obcp.engine import SettledTask
from obcp.meta.db import now_ms
from obcp.meta.tables import ob_cluster
from obcp.notify import channels, deliveries
from obcp.notify.deliveries import NewDelivery
from obcp.notify.events import TASK_EVENTS, Event, PendingParameter, parameter_payload, task_payload

log = logging.getLogger("obcp.notify")


def task_settled(conn: Connection, task: SettledTask) -> None:
    """The engine's settle listener. Notifications never cost a task its state: a failure here (other than
    one the engine's transaction retries as a whole: a deadlock, a lost connection) is logged and the
    savepoint rolled back, and the task settles without its outbox rows."""
    try:
        with conn.begin_nested():
            _task_rows(conn, task)
    except DBAPIError as exc:
        if _transient(exc):
            raise
        log.exception(
            "notifications: the outbox rows of task %d were not written; its state is kept", task.id
        )
    except Exception:
        log.exception(
            "notifications: the outbox rows of task %d were not written; its state is kept", task.id
        )


# What the engine's transaction is repeated for, or waits out: then the outbox rows come with the repeat.
_TRANSIENT = (
    "deadlock",
    "lock wait timeout",
    "database is locked",
    "could not serialize",
    "connection",
    "lost",
)


def _transient(exc: DBAPIError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return bool(exc.connection_invalidated) or any(t in text for t in _TRANSIENT)


def _task_rows(conn: Connection, task: SettledTask) -> None:
    event = TASK_EVENTS.get(task.state)
    if event is None:
        return
    targets = [
        s.id
        for s in channels.subscribers(conn)
        if any(sub.matches(event, task.name, task.cluster_id) for sub in s.subscriptions)
    ]
    if not targets:
        return
    now = now_ms()
    name = _cluster_name(conn, task.cluster_id)
    new = []
    for channel_id in targets:
        key = str(uuid.uuid4())
        new.append(NewDelivery(channel_id, event.value, key, task_payload(event, task, name, key, now)))
    deliveries.insert(conn, new, now)


def parameters_pending(
    conn: Connection,
    cluster_id: int,
    parameters: list[PendingParameter],
    *,
    changed_by: str,
    trace_id: str | None,
) -> None:
    """The static parameters just changed on the cluster wait for a restart of these servers."""
    if not parameters:
        return
    event = Event.PARAMETER_PENDING_RESTART
    targets = [
        s.id
        for s in channels.subscribers(conn)
        if any(sub.matches(event, None, cluster_id) for sub in s.subscriptions)
    ]
    if not targets:
        return
    now = now_ms()
    name = _cluster_name(conn, cluster_id)
    new = []
    for channel_id in targets:
        key = str(uuid.uuid4())
        payload = parameter_payload(
            cluster_id, name, parameters, changed_by=changed_by, trace_id=trace_id, delivery_id=key, now=now
        )
        new.append(NewDelivery(channel_id, event.value, key, payload))
    deliveries.insert(conn, new, now)


def _cluster_name(conn: Connection, cluster_id: int | None) -> str | None:
    if cluster_id is None:
        return None
    return conn.execute(select(ob_cluster.c.name).where(ob_cluster.c.id == cluster_id)).scalar()
