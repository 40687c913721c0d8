"""Helpers shared by the operation steps: who a step acts on, and the writers of its statuses."""

from __future__ import annotations

from typing import Any

from obcp.engine import RunContext
from obcp.meta import inventory
from obcp.meta.inventory import ServerRef
from obcp.meta.statuses import InnerStatus
from obcp.ob.topology import read_topology
from obcp.operations import keys
from obcp.operations.services import ClusterUnreachable, OperationServices


def cluster_id(ctx: RunContext) -> int:
    value = ctx.get(keys.CLUSTER_ID)
    assert value is not None, "the task context has no cluster_id"
    return int(value)


def zone_of(ctx: RunContext) -> str:
    """The zone a zone-level or server-level step acts on (a parameter of its node in the template)."""
    zone = ctx.params.get("zone")
    assert zone, "this step was built without a zone parameter"
    return zone


async def server_of(ctx: RunContext) -> ServerRef:
    """The server of a per-server step: its node's `server_id` parameter (a server operation), or this
    instance's item of `<cid>.<zone>.server_ids` (a fan-out over a zone)."""
    cid = cluster_id(ctx)
    fixed = ctx.params.get("server_id")
    server_id = int(fixed) if fixed else int(ctx.parallel_value(keys.server_ids(cid, zone_of(ctx))))
    return await OperationServices.of(ctx).server(cid, server_id)


async def zone_servers(ctx: RunContext, zone: str) -> list[ServerRef]:
    cid = cluster_id(ctx)
    wanted = {int(x) for x in ctx.context.list_map.get(keys.server_ids(cid, zone), [])}
    return [r for r in await OperationServices.of(ctx).servers(cid) if r.id in wanted]


def label(ref: ServerRef) -> str:
    """How a DBA names an observer in a message: zone, address, SQL port and the agent's name for it."""
    return f"observer {ref.observer_name} ({ref.address}:{ref.sql_port}, zone {ref.zone_name})"


async def set_cluster_status(ctx: RunContext, status: str, **values: Any) -> None:
    async with OperationServices.of(ctx).db.tx() as conn:
        await inventory.set_cluster_status(conn, cluster_id(ctx), str(status), **values)
    ctx.log.info("cluster %s status: %s", cluster_id(ctx), status)


async def set_zone_status(ctx: RunContext, zone: str, status: str, inner: str | None = None) -> str:
    """Sets the zone's status; returns the one it had."""
    async with OperationServices.of(ctx).db.tx() as conn:
        row = await inventory.zone_by_name(conn, cluster_id(ctx), zone)
        await inventory.set_zone_status(conn, row.id, str(status), _plain(inner))
    ctx.log.info("zone %s status: %s -> %s", zone, row.status, status)
    return str(row.status)


async def set_server_status(ctx: RunContext, ref: ServerRef, status: str, inner: str | None = None) -> str:
    async with OperationServices.of(ctx).db.tx() as conn:
        await inventory.set_server_status(conn, ref.id, str(status), _plain(inner))
    ctx.log.info("%s status: %s -> %s", label(ref), ref.status, status)
    return ref.status


def _plain(value: str | None) -> str | None:
    # The metadb drivers are given plain strings, not the lifecycle's enum members.
    return None if value is None else str(value)


async def record_zone_states(ctx: RunContext, zones: list[str]) -> None:
    """What kind of cluster this is and which zones were ACTIVE before the task touched anything: only
    those may it stop and start again. Done once per task (a re-run after a crash keeps the first record)."""
    if ctx.get(keys.OB_KIND) is not None:
        return
    try:
        async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            ctx.put(keys.OB_KIND, ops.capability.kind.value)
            if not ops.distributed:
                ctx.log.info(
                    "standalone server(s): zones are obcp's grouping, OceanBase has no zone state here"
                )
                return
            topology = await read_topology(ops.ex, ops.capability)
    except ClusterUnreachable as exc:
        # Every observer down: nothing can be stopped through SQL; the processes will be started again.
        ctx.log.warning("%s; zone states unknown, no ALTER SYSTEM will be sent", exc)
        return
    for zone in topology.zones:
        if zone.name in zones:
            ctx.put(keys.zone_active_before(zone.name), str(zone.status == InnerStatus.ACTIVE).lower())
            ctx.log.info("zone %s is %s in DBA_OB_ZONES", zone.name, zone.status)
