"""Every cluster parameter change made through obcp: who, when, which parameter, old and new value, the
request's traceId, and the START_SERVICE_TIME each server had at that moment (a server still reporting
that start time has not restarted since, so a static parameter is still pending on it)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.meta.base import Id, metadata

ob_parameter_change = Table(
    "ob_parameter_change",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cluster_id", Id, ForeignKey("ob_cluster.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    # One value when every server reported the same, else the distinct ones joined by ", ".
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=False),
    Column("need_restart", Boolean, nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", BigInteger, nullable=False),
    Column("trace_id", String(64), nullable=True),
    # JSON {"<server id>": START_SERVICE_TIME µs or null} of every server when the change was applied.
    Column("server_start_times", Text, nullable=False),
    # JSON list of the inventory ids of the servers last seen still running without this (static) change:
    # what the cluster detail shows without asking the cluster; refreshed by every live read and restart.
    Column("pending_server_ids", Text, nullable=False),
    Index("ix_ob_parameter_change_cluster_id_name", "cluster_id", "name"),
)


async def pending_names(conn: AsyncConnection, cluster_ids: Collection[int]) -> dict[int, list[str]]:
    """The static parameters last seen pending on some server, by cluster id (no live read)."""
    query = select(
        ob_parameter_change.c.cluster_id, ob_parameter_change.c.name, ob_parameter_change.c.pending_server_ids
    ).where(
        ob_parameter_change.c.cluster_id.in_(sorted(cluster_ids)),
        ob_parameter_change.c.pending_server_ids != "[]",
    )
    result: dict[int, list[str]] = {}
    for row in await conn.execute(query):
        names = result.setdefault(int(row.cluster_id), [])
        if row.name not in names:
            names.append(row.name)
    return {cid: sorted(names) for cid, names in result.items()}
