"""The outbox (`alarm_delivery`) and its attempts (`alarm_delivery_attempt`), this module their only writer:
rows written in an event's transaction, claimed one attempt at a time with a guarded UPDATE (owner and a
lease by the metadb's clock, so two replicas never send the same attempt at once), each attempt recorded
fenced by owner and attempt number, and the view the API shows."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.meta.alarm_tables import alarm_channel, alarm_delivery, alarm_delivery_attempt
from obcp.meta.clock import db_now_ms
from obcp.meta.db import Database, now_ms
from obcp.meta.paging import Pager
from obcp.notify.settings import NotifySettings
from obcp.timefmt import iso_ms

PENDING, SENT, FAILED = "PENDING", "SENT", "FAILED"
STATUSES = (PENDING, SENT, FAILED)
D = alarm_delivery.c
A = alarm_delivery_attempt.c
DELIVERY_SORTS: dict[str, ColumnElement[Any]] = {"id": D.id, "createTime": D.created_at}


@dataclass(frozen=True)
class NewDelivery:
    channel_id: int
    event: str
    key: str
    payload: dict[str, Any]


def insert(conn: Connection, new: list[NewDelivery], now: int) -> None:
    """The outbox rows of one event, in one statement, in the event's transaction."""
    if not new:
        return
    rows = [
        {
            "channel_id": d.channel_id,
            "delivery_key": d.key,
            "event": d.event,
            "payload": json.dumps(d.payload, separators=(",", ":")),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for d in new
    ]
    conn.execute(alarm_delivery.insert(), rows)


def _due() -> Any:
    return and_(
        D.status == PENDING,
        D.next_attempt_at <= db_now_ms(),
        or_(D.owner.is_(None), D.lease_expire_at < db_now_ms()),
    )


async def due(db: Database, limit: int, skip: Collection[int] = ()) -> list[int]:
    query = select(D.id).where(_due()).order_by(D.next_attempt_at, D.id).limit(limit + len(skip))
    async with db.read() as conn:
        return [int(r.id) for r in await conn.execute(query) if r.id not in skip][:limit]


@dataclass(frozen=True)
class Claimed:
    id: int
    channel_id: int
    key: str
    event: str
    payload: str
    attempt: int
    created_at: int
    channel: Any  # the alarm_channel row (obcp.notify.channels.target reads it)


async def claim(db: Database, delivery_id: int, owner: str, lease_ms: int) -> Claimed | None:
    """The next attempt of the delivery for `owner`, or None when it is not due or another replica has it."""
    async with db.tx() as conn:
        won = await conn.execute(
            update(alarm_delivery)
            .where(D.id == delivery_id, _due())
            .values(
                owner=owner,
                lease_expire_at=db_now_ms() + lease_ms,
                attempts=D.attempts + 1,
                updated_at=now_ms(),
            )
        )
        if won.rowcount != 1:
            return None
        row = (await conn.execute(select(alarm_delivery).where(D.id == delivery_id))).one()
        channel = (
            await conn.execute(select(alarm_channel).where(alarm_channel.c.id == row.channel_id))
        ).one()
    return Claimed(
        int(row.id), int(row.channel_id), row.delivery_key, row.event, row.payload, int(row.attempts),
        int(row.created_at), channel,
    )  # fmt: skip


@dataclass(frozen=True)
class Attempt:
    started_at: int
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record(db: Database, c: Claimed, owner: str, a: Attempt, settings: NotifySettings) -> str | None:
    """Record the attempt and the delivery's new status (SENT, PENDING for a retry, or FAILED when its
    attempts or its time are used up); None when the lease was lost meanwhile (the attempt is still
    recorded: it happened)."""
    now = now_ms()
    values: dict[str, Any] = {"owner": None, "lease_expire_at": None, "updated_at": now}
    if a.ok:
        values.update(status=SENT, finished_at=now, last_error=None)
    else:
        wait = settings.backoff_ms(c.attempt)
        spent = now + wait - c.created_at > settings.retry_seconds * 1000
        last = a.error or f"HTTP {a.status_code}"
        if c.attempt >= settings.max_attempts or spent:
            values.update(status=FAILED, finished_at=now, last_error=last[:1000])
        else:
            values.update(status=PENDING, next_attempt_at=db_now_ms() + wait, last_error=last[:1000])
    async with db.tx() as conn:
        won = await conn.execute(
            update(alarm_delivery)
            .where(D.id == c.id, D.owner == owner, D.attempts == c.attempt)
            .values(**values)
        )
        # A delivery deleted meanwhile (its channel was) keeps no attempt; one taken over keeps this one.
        if won.rowcount == 1 or (await conn.execute(select(D.id).where(D.id == c.id))).first() is not None:
            await conn.execute(
                alarm_delivery_attempt.insert().values(
                    delivery_id=c.id,
                    attempt=c.attempt,
                    sender=owner,
                    started_at=a.started_at,
                    duration_ms=a.duration_ms,
                    status_code=a.status_code,
                    error=a.error[:1000] if a.error else None,
                )
            )
    return str(values["status"]) if won.rowcount == 1 else None


async def release(db: Database, owner: str) -> int:
    """Give back the attempts `owner` held: a replica that restarts under the same id cannot be sending them
    any more (its previous process is gone), so they are due again at once instead of after their lease."""
    async with db.tx() as conn:
        result = await conn.execute(
            update(alarm_delivery)
            .where(D.owner == owner, D.status == PENDING)
            .values(owner=None, lease_expire_at=None, updated_at=now_ms())
        )
    return int(result.rowcount)


async def delete_of_channel(conn: AsyncConnection, channel_id: int) -> None:
    ids = select(D.id).where(D.channel_id == channel_id).scalar_subquery()
    await conn.execute(delete(alarm_delivery_attempt).where(A.delivery_id.in_(ids)))
    await conn.execute(delete(alarm_delivery).where(D.channel_id == channel_id))


async def list_deliveries(
    conn: AsyncConnection, channel_id: int, status: str | None, event: str | None, pager: Pager
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the channel's deliveries, newest first unless sorted, each with its attempts."""
    where = [D.channel_id == channel_id]
    if status:
        where.append(D.status == status)
    if event:
        where.append(D.event == event)
    total = (await conn.execute(select(func.count()).select_from(alarm_delivery).where(*where))).scalar_one()
    query = pager.apply(select(alarm_delivery).where(*where), DELIVERY_SORTS, D.id.desc())
    rows = list((await conn.execute(query)).all())
    attempts: dict[int, list[dict[str, Any]]] = {int(r.id): [] for r in rows}
    if rows:
        query = select(alarm_delivery_attempt).where(A.delivery_id.in_(list(attempts))).order_by(A.id)
        for a in await conn.execute(query):
            attempts[int(a.delivery_id)].append(_attempt_json(a))
    return int(total), [_delivery_json(r, attempts[int(r.id)]) for r in rows]


def _delivery_json(row: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "channelId": row.channel_id,
        "deliveryId": row.delivery_key,
        "event": row.event,
        "status": row.status,
        "attemptCount": row.attempts,
        "nextAttemptTime": iso_ms(row.next_attempt_at) if row.status == PENDING else None,
        "lastError": row.last_error,
        "payload": json.loads(row.payload),
        "createTime": iso_ms(row.created_at),
        "finishTime": iso_ms(row.finished_at),
        "attempts": attempts,
    }


def _attempt_json(row: Any) -> dict[str, Any]:
    return {
        "attempt": row.attempt,
        "sender": row.sender,
        "startTime": iso_ms(row.started_at),
        "durationMillis": row.duration_ms,
        "statusCode": row.status_code,
        "error": row.error,
    }


async def counts(db: Database) -> dict[str, int]:
    """Deliveries by status, in the whole metadb."""
    async with db.read() as conn:
        rows = await conn.execute(select(D.status, func.count()).group_by(D.status))
        found = {str(r[0]): int(r[1]) for r in rows}
    return {s: found.get(s, 0) for s in STATUSES}
