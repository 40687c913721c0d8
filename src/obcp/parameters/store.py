"""The change records of `ob_parameter_change`: written when a change is applied, read for what is still
pending, and their last-seen pending servers refreshed."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.meta.parameter_tables import ob_parameter_change


@dataclass(frozen=True)
class NewChange:
    name: str
    old_value: str | None
    new_value: str
    need_restart: bool
    start_times: dict[int, int | None]


@dataclass(frozen=True)
class Change:
    id: int
    cluster_id: int
    name: str
    old_value: str | None
    new_value: str
    need_restart: bool
    changed_by: str
    changed_at: int
    trace_id: str | None
    start_times: dict[int, int | None]
    pending_server_ids: tuple[int, ...]


async def record(
    conn: AsyncConnection,
    cluster_id: int,
    changes: list[NewChange],
    *,
    changed_by: str,
    changed_at: int,
    trace_id: str | None,
) -> None:
    """Writes the changes; an earlier change of the same parameter is no longer the pending one."""
    names = [c.name for c in changes]
    await conn.execute(
        update(ob_parameter_change)
        .where(ob_parameter_change.c.cluster_id == cluster_id, ob_parameter_change.c.name.in_(names))
        .values(pending_server_ids="[]")
    )
    rows = [
        {
            "cluster_id": cluster_id,
            "name": c.name,
            "old_value": c.old_value,
            "new_value": c.new_value,
            "need_restart": c.need_restart,
            "changed_by": changed_by,
            "changed_at": changed_at,
            "trace_id": trace_id,
            "server_start_times": json.dumps({str(k): v for k, v in c.start_times.items()}),
            "pending_server_ids": json.dumps(sorted(c.start_times) if c.need_restart else []),
        }
        for c in changes
    ]
    await conn.execute(ob_parameter_change.insert(), rows)


async def latest_static(conn: AsyncConnection, cluster_id: int) -> dict[str, Change]:
    """The newest change of every static parameter of the cluster, by name."""
    query = (
        select(ob_parameter_change)
        .where(ob_parameter_change.c.cluster_id == cluster_id)
        .order_by(ob_parameter_change.c.id)
    )
    latest: dict[str, Change] = {}
    for row in await conn.execute(query):
        change = _change(row)
        latest[change.name] = change
    return {name: c for name, c in latest.items() if c.need_restart}


async def set_pending(conn: AsyncConnection, change_id: int, server_ids: Collection[int]) -> None:
    await conn.execute(
        update(ob_parameter_change)
        .where(ob_parameter_change.c.id == change_id)
        .values(pending_server_ids=json.dumps(sorted(server_ids)))
    )


def _change(row: Any) -> Change:
    times = json.loads(row.server_start_times)
    return Change(
        id=int(row.id),
        cluster_id=int(row.cluster_id),
        name=str(row.name),
        old_value=row.old_value,
        new_value=str(row.new_value),
        need_restart=bool(row.need_restart),
        changed_by=str(row.changed_by),
        changed_at=int(row.changed_at),
        trace_id=row.trace_id,
        start_times={int(k): (None if v is None else int(v)) for k, v in times.items()},
        pending_server_ids=tuple(int(i) for i in json.loads(row.pending_server_ids)),
    )
