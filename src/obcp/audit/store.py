"""The owner of `audit_event`: the event of a change written in the change's own transaction, a refusal's in
a transaction of its own, the filtered and paged list, and the pruning after the retention."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, event, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.audit.context import AuditEntry, current, pending
from obcp.audit.redact import as_text, redacted
from obcp.meta.audit_tables import audit_event
from obcp.meta.db import Database, now_ms
from obcp.meta.paging import Pager

SUCCESS = "SUCCESS"
FAILED = "FAILED"
RESULTS = (SUCCESS, FAILED)
DAY_MS = 24 * 3600 * 1000

SORTS: dict[str, ColumnElement[Any]] = {
    "id": audit_event.c.id,
    "createTime": audit_event.c.created_at,
    "userName": audit_event.c.user_name,
    "action": audit_event.c.action,
    "resourceType": audit_event.c.resource_type,
    "result": audit_event.c.result,
}


def _values(
    entry: AuditEntry,
    result: str,
    error_code: int | None,
    resource_id: object,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    summary = dict(entry.summary)
    if details:
        summary.update(redacted(details))
    chosen = resource_id if resource_id is not None else entry.resource_id
    return {
        "created_at": now_ms(),
        "user_name": _text(entry.user_name, 64),
        "user_id": entry.user_id,
        "access_key_id": _text(entry.access_key_id, 64),
        "client_address": _text(entry.client_address, 64) or "",
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": _text(chosen, 128),
        "result": result,
        "error_code": error_code,
        "trace_id": entry.trace_id[:64],
        "summary": as_text(summary),
    }


def _text(value: object, limit: int) -> str | None:
    """What a caller sent (a user name tried, a path's id) as a column takes it: bounded, without the NUL
    that PostgreSQL refuses in text."""
    return None if value is None else str(value).replace("\x00", "")[:limit]


async def record(
    conn: AsyncConnection, *, resource_id: object = None, details: dict[str, Any] | None = None
) -> None:
    """The request's change succeeds in `conn`'s transaction: its event goes in the same transaction (once
    per request; nothing outside a request's own task, e.g. in a task's steps)."""
    entry = current()
    if entry is None or entry.recorded:
        return
    await conn.execute(insert(audit_event).values(**_values(entry, SUCCESS, None, resource_id, details)))
    _recorded_unless_rolled_back(conn.sync_connection, entry)


def record_in(
    conn: Connection,
    entry: AuditEntry | None,
    *,
    resource_id: object = None,
    details: dict[str, Any] | None = None,
) -> None:
    """`record` for a synchronous transaction (the engine's), which runs outside the request's task and so
    is handed the entry (`obcp.audit.pending()`, taken before). It writes whenever called: a transaction
    repeated after a deadlock writes it again, in the attempt that commits."""
    if entry is None:
        return
    conn.execute(insert(audit_event).values(**_values(entry, SUCCESS, None, resource_id, details)))
    _recorded_unless_rolled_back(conn, entry)


def audited(
    action: Callable[[Connection], object], details: dict[str, Any] | None = None
) -> Callable[[Connection], None]:
    """The action, then the calling request's event in the same synchronous transaction (`record_in`): the
    entry is taken now, in the request's task."""
    entry = pending()

    def act(conn: Connection) -> None:
        action(conn)
        record_in(conn, entry, details=details)

    return act


def _recorded_unless_rolled_back(conn: Connection | None, entry: AuditEntry) -> None:
    """Marks the entry recorded, and unmarks it if the transaction rolls back after all (the change and its
    event gone together): the call then leaves its FAILED event instead."""
    entry.recorded = True
    if conn is None:
        return

    def rolled_back(_conn: Connection) -> None:
        entry.recorded = False

    event.listen(conn, "rollback", rolled_back, once=True)


async def record_refusal(db: Database, entry: AuditEntry, error_code: int) -> None:
    """A call refused or failed before it changed anything: its event, in a transaction of its own."""
    if entry.recorded:
        return
    async with db.tx() as conn:
        await conn.execute(insert(audit_event).values(**_values(entry, FAILED, error_code, None, None)))
    entry.recorded = True


async def record_login_failure(
    db: Database,
    *,
    client_address: str,
    trace_id: str,
    method: str,
    path: str,
    user_name: str | None = None,
    access_key_id: str | None = None,
    error_code: int = 3000,
) -> None:
    """Credentials refused (a wrong password, an unknown user, a refused access-key signature): a LOGIN
    that FAILED, like a refused console login."""
    by_key = access_key_id is not None
    entry = AuditEntry(
        action="LOGIN",
        resource_type="ACCESS_KEY" if by_key else "USER",
        resource_id=access_key_id[:64] if by_key and access_key_id else None,
        client_address=client_address,
        trace_id=trace_id,
        summary={"method": method, "path": path, "credentials": "access key" if by_key else "basic"},
        user_name=None if user_name is None else user_name[:64],
        access_key_id=None if access_key_id is None else access_key_id[:64],
    )
    await record_refusal(db, entry, error_code)


async def record_user_lock(
    conn: AsyncConnection,
    *,
    user_id: int,
    user_name: str,
    locked: bool,
    reason: str,
    client_address: str = "",
    trace_id: str = "",
) -> None:
    """A user locked (e.g. after repeated failed logins) or unlocked, in the transaction that does it.

    Called by the owner of the lock; the request's address and traceId are taken when called inside one."""
    entry = current()
    event = AuditEntry(
        action="USER_LOCK" if locked else "USER_UNLOCK",
        resource_type="USER",
        resource_id=str(user_id),
        client_address=client_address or (entry.client_address if entry else ""),
        trace_id=trace_id or (entry.trace_id if entry else ""),
        summary={"reason": reason[:256]},
        user_name=user_name[:64],
        user_id=user_id,
    )
    await conn.execute(insert(audit_event).values(**_values(event, SUCCESS, None, None, None)))


@dataclass(frozen=True)
class EventFilter:
    start_ms: int | None = None
    end_ms: int | None = None
    user_name: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    result: str | None = None
    access_key_id: str | None = None


def _where(f: EventFilter) -> list[ColumnElement[bool]]:
    c = audit_event.c
    where: list[ColumnElement[bool]] = []
    if f.start_ms is not None:
        where.append(c.created_at >= f.start_ms)
    if f.end_ms is not None:
        where.append(c.created_at <= f.end_ms)
    pairs = (
        (c.user_name, f.user_name),
        (c.action, f.action),
        (c.resource_type, f.resource_type),
        (c.resource_id, f.resource_id),
        (c.result, f.result),
        (c.access_key_id, f.access_key_id),
    )
    where.extend(column == value for column, value in pairs if value is not None)
    return where


async def list_events(conn: AsyncConnection, f: EventFilter, pager: Pager) -> tuple[int, list[Any]]:
    """One page of the matching events (newest first unless sorted otherwise), and how many match."""
    where = _where(f)
    total = (await conn.execute(select(func.count()).select_from(audit_event).where(*where))).scalar_one()
    query = select(audit_event).where(*where)
    rows = (await conn.execute(pager.apply(query, SORTS, audit_event.c.id.desc()))).all()
    return int(total), list(rows)


async def prune(db: Database, retention_days: int, now: int | None = None) -> int:
    """Deletes the events older than the retention; how many. Any replica may run it, at any time."""
    cutoff = (now if now is not None else now_ms()) - retention_days * DAY_MS
    async with db.tx() as conn:
        result = await conn.execute(delete(audit_event).where(audit_event.c.created_at < cutoff))
    return int(result.rowcount or 0)


def summary_of(row: Any) -> dict[str, Any]:
    try:
        data = json.loads(row.summary)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
