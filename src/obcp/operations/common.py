"""Helpers shared by the operation steps: who a step acts on, and status bookkeeping."""

from __future__ import annotations

from typing import Any

from obcp.engine import RunContext
from obcp.meta import inventory
from obcp.meta.inventory import ServerRef
from obcp.operations import keys
from obcp.operations.services import OperationServices


def services(ctx: RunContext) -> OperationServices:
    ops = ctx.services.get("ops")
    assert isinstance(ops, OperationServices), "the engine was started without the operations services"
    return ops


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
    """The server of a per-server step: this instance's item of `<cid>.<zone>.server_ids`."""
    cid = cluster_id(ctx)
    server_id = int(ctx.parallel_value(keys.server_ids(cid, zone_of(ctx))))
    return await services(ctx).server(cid, server_id)


async def zone_servers(ctx: RunContext, zone: str) -> list[ServerRef]:
    cid = cluster_id(ctx)
    wanted = {int(x) for x in ctx.context.list_map.get(keys.server_ids(cid, zone), [])}
    return [r for r in await services(ctx).servers(cid) if r.id in wanted]


def label(ref: ServerRef) -> str:
    """How a DBA names an observer in a message: zone, address, SQL port and the agent's name for it."""
    return f"observer {ref.observer_name} ({ref.address}:{ref.sql_port}, zone {ref.zone_name})"


async def set_cluster_status(ctx: RunContext, status: str, **values: Any) -> None:
    async with services(ctx).db.tx() as conn:
        await inventory.set_cluster_status(conn, cluster_id(ctx), status, **values)
    ctx.log.info("cluster %s status: %s", cluster_id(ctx), status)


async def set_zone_status(ctx: RunContext, zone: str, status: str, inner: str | None = None) -> str:
    """Sets the zone's status; returns the one it had."""
    async with services(ctx).db.tx() as conn:
        row = await inventory.zone_by_name(conn, cluster_id(ctx), zone)
        await inventory.set_zone_status(conn, row.id, status, inner)
    ctx.log.info("zone %s status: %s -> %s", zone, row.status, status)
    return str(row.status)


async def set_server_status(ctx: RunContext, ref: ServerRef, status: str, inner: str | None = None) -> str:
    async with services(ctx).db.tx() as conn:
        await inventory.set_server_status(conn, ref.id, status, inner)
    ctx.log.info("%s status: %s -> %s", label(ref), ref.status, status)
    return ref.status
