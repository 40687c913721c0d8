"""Validation and submission of cluster operations: the checks that answer an API call at once (unknown
cluster, busy, wrong state, unsafe mode), then the task created whole by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine import (
    Context,
    Engine,
    ResourceLock,
    Template,
    load_task,
    lock_holder,
    seed_json,
    wrapped_json,
)
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.meta.db import Database
from obcp.operations import keys, templates
from obcp.operations.cluster_steps import ALLOWED_FROM

RestartMode = Literal["ROLLING", "FORCE"]


@dataclass(frozen=True)
class RestartOptions:
    mode: RestartMode = "ROLLING"
    zone_names: tuple[str, ...] | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class Plan:
    """What an operation will run: the template, its context, the locks, for a submit or a dry run."""

    template: Template
    context: Context
    locks: tuple[ResourceLock, ...]
    cluster: Any


async def plan_restart_cluster(db: Database, cluster_id: int, options: RestartOptions) -> Plan:
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        holder = await _holder_of(conn, ResourceLock.cluster(cluster_id))
        zones = await inventory.zones_of(conn, [cluster_id])
        servers = await inventory.servers_of(conn, [cluster_id])
    _refuse_busy(ErrorCode.CLUSTER_BUSY, holder)
    if cluster.status not in ALLOWED_FROM["restart"]:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    names = [zr.name for zr in zones]
    if options.zone_names is not None:
        unknown = [n for n in options.zone_names if n not in names]
        if unknown:
            raise ObcpError(ErrorCode.ZONE_NOT_FOUND, cluster_id, ", ".join(unknown))
        if not options.zone_names:
            raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, "zoneNames (an empty list restarts nothing)")
        names = [n for n in names if n in options.zone_names]  # the cluster's zone order, not the caller's
    ctx = _base_context(cluster, "restart")
    ctx.put(keys.RESTART_MODE, options.mode)
    for name in names:
        zs = [sv for sv in servers if sv.zone_name == name]
        if not zs:
            raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"zoneNames (zone {name} has no server to restart)")
        ctx.put_list(keys.server_ids(cluster.id, name), [sv.id for sv in zs])
        ctx.put_list(keys.host_ids(cluster.id, name), [sv.host_id for sv in zs])
    ctx.put_list(keys.ZONE_NAMES, names)
    template = templates.restart_cluster(cluster.id, names, rolling=options.mode == "ROLLING")
    return Plan(template, ctx, (ResourceLock.cluster(cluster.id),), cluster)


def _base_context(cluster: Any, kind: str) -> Context:
    ctx = Context()
    ctx.put(keys.CLUSTER_NAME, cluster.name)
    ctx.put(keys.CLUSTER_ID, cluster.id)
    ctx.put(keys.AGENT_SERVICE_NAME, "agent")
    ctx.put(keys.FORMER_CLUSTER_STATUS, cluster.status)
    ctx.put(keys.OPERATION_KIND, kind)
    return ctx


async def plan_restart_zone(db: Database, cluster_id: int, zone_name: str) -> Plan:
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        zone = await inventory.zone_by_name(conn, cluster_id, zone_name)
        servers = await inventory.servers_of(conn, [cluster_id], zone_id=zone.id)
        lock = ResourceLock.zone(zone.id, cluster.id)
        holder = await _holder_of(conn, lock)
    _refuse_busy(ErrorCode.ZONE_BUSY, holder)
    if cluster.status not in ALLOWED_FROM["restart"]:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    if zone.status not in ("RUNNING", "UNAVAILABLE"):
        raise ObcpError(ErrorCode.ZONE_STATE_INVALID, zone.name)
    if not servers:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"zoneName (zone {zone.name} has no server to restart)")
    ctx = _base_context(cluster, "restart")
    ctx.put(keys.RESTART_MODE, "ROLLING")
    ctx.put_list(keys.server_ids(cluster.id, zone.name), [sv.id for sv in servers])
    ctx.put_list(keys.host_ids(cluster.id, zone.name), [sv.host_id for sv in servers])
    ctx.put_list(keys.ZONE_NAMES, [zone.name])
    template = templates.restart_zone(cluster.id, zone.name)
    return Plan(template, ctx, (lock,), cluster)


async def plan_restart_server(db: Database, cluster_id: int, server_id: int, *, force: bool) -> Plan:
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        servers = await inventory.servers_of(conn, [cluster_id])
        server = next((sv for sv in servers if sv.id == server_id), None)
        if server is None:
            raise ObcpError(ErrorCode.SERVER_NOT_FOUND, server_id)
        lock = ResourceLock.server(server.id, cluster.id, server.zone_id)
        holder = await _holder_of(conn, lock)
    _refuse_busy(ErrorCode.SERVER_BUSY, holder)
    if cluster.status not in ALLOWED_FROM["restart"]:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    if server.status not in ("RUNNING", "UNAVAILABLE", "PROCESS_STOPPED", "STOPPED"):
        raise ObcpError(ErrorCode.SERVER_STATE_INVALID, server.status, "RUNNING")
    ctx = _base_context(cluster, "restart")
    ctx.put(keys.FORCE, str(force).lower())
    ctx.put_list(keys.server_ids(cluster.id, server.zone_name), [server.id])
    ctx.put_list(keys.host_ids(cluster.id, server.zone_name), [server.host_id])
    ctx.put_list(keys.ZONE_NAMES, [server.zone_name])
    template = templates.restart_server(server.zone_name, server.id)
    return Plan(template, ctx, (lock,), cluster)


StartStop = Literal["start", "stop"]

# Where a zone or server operation may begin: a zone or server can be stopped or started only while its
# cluster runs (a stopped cluster is started as a whole).
_CLUSTER_UP = ("RUNNING", "UNAVAILABLE")
_ZONE_FROM = {"stop": ("RUNNING", "UNAVAILABLE"), "start": ("STOPPED", "UNAVAILABLE")}
_SERVER_FROM = {
    "stop": ("RUNNING", "UNAVAILABLE"),
    "start": ("STOPPED", "PROCESS_STOPPED", "SERVICE_STOPPED", "UNAVAILABLE"),
}


async def _holder_of(conn: AsyncConnection, lock: ResourceLock) -> Any:
    """The task holding a lock that excludes `lock` (the engine's own rule). Asked before the state
    check, so a second call during an operation gets "busy, task N", not "cluster RESTARTING"."""
    return await lock_holder(conn, lock)


def _refuse_busy(code: ErrorCode, holder: Any) -> None:
    if holder is not None:
        raise ObcpError(
            code, f"{holder.name} (task {holder.id}, {holder.state})", target={"taskId": holder.id}
        )


async def plan_cluster(db: Database, cluster_id: int, kind: StartStop) -> Plan:
    """Stop or start every zone of the cluster (those with servers), all zones side by side."""
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        holder = await _holder_of(conn, ResourceLock.cluster(cluster_id))
        zones = await inventory.zones_of(conn, [cluster_id])
        servers = await inventory.servers_of(conn, [cluster_id])
    _refuse_busy(ErrorCode.CLUSTER_BUSY, holder)
    if cluster.status not in ALLOWED_FROM[kind]:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    ctx = _base_context(cluster, kind)
    ctx.put(keys.OPERATION_SCOPE, "cluster")
    ctx.put(keys.TARGET_CLUSTER_STATUS, "STOPPED" if kind == "stop" else "RUNNING")
    names: list[str] = []
    for zr in zones:
        zs = [sv for sv in servers if sv.zone_name == zr.name]
        if zs:
            names.append(zr.name)
            ctx.put_list(keys.server_ids(cluster.id, zr.name), [sv.id for sv in zs])
            ctx.put_list(keys.host_ids(cluster.id, zr.name), [sv.host_id for sv in zs])
    if not names:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"cluster {cluster.name} has no server to {kind}")
    ctx.put_list(keys.ZONE_NAMES, names)
    build = templates.stop_cluster if kind == "stop" else templates.start_cluster
    return Plan(build(cluster.id, names), ctx, (ResourceLock.cluster(cluster.id),), cluster)


async def plan_zone(db: Database, cluster_id: int, zone_name: str, kind: StartStop) -> Plan:
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        zone = await inventory.zone_by_name(conn, cluster_id, zone_name)
        servers = await inventory.servers_of(conn, [cluster_id], zone_id=zone.id)
        lock = ResourceLock.zone(zone.id, cluster.id)
        holder = await _holder_of(conn, lock)
    _refuse_busy(ErrorCode.ZONE_BUSY, holder)
    if cluster.status not in _CLUSTER_UP:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    if zone.status not in _ZONE_FROM[kind]:
        raise ObcpError(ErrorCode.ZONE_STATE_INVALID, f"{zone.name} ({zone.status})")
    if not servers:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"zoneName (zone {zone.name} has no server to {kind})")
    ctx = _base_context(cluster, kind)
    ctx.put(keys.OPERATION_SCOPE, "zone")
    ctx.put_list(keys.server_ids(cluster.id, zone.name), [sv.id for sv in servers])
    ctx.put_list(keys.host_ids(cluster.id, zone.name), [sv.host_id for sv in servers])
    ctx.put_list(keys.ZONE_NAMES, [zone.name])
    build = templates.stop_zone if kind == "stop" else templates.start_zone
    return Plan(build(cluster.id, zone.name), ctx, (lock,), cluster)


async def plan_server(db: Database, cluster_id: int, server_id: int, kind: StartStop) -> Plan:
    async with db.read() as conn:
        cluster = await inventory.get_cluster(conn, cluster_id)
        servers = await inventory.servers_of(conn, [cluster_id])
        server = next((sv for sv in servers if sv.id == server_id), None)
        if server is None:
            raise ObcpError(ErrorCode.SERVER_NOT_FOUND, server_id)
        lock = ResourceLock.server(server.id, cluster.id, server.zone_id)
        holder = await _holder_of(conn, lock)
    _refuse_busy(ErrorCode.SERVER_BUSY, holder)
    if cluster.status not in _CLUSTER_UP:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    if server.status not in _SERVER_FROM[kind]:
        raise ObcpError(ErrorCode.SERVER_STATE_INVALID, server.status, " or ".join(_SERVER_FROM[kind]))
    ctx = _base_context(cluster, kind)
    ctx.put(keys.OPERATION_SCOPE, "server")
    ctx.put_list(keys.server_ids(cluster.id, server.zone_name), [server.id])
    ctx.put_list(keys.host_ids(cluster.id, server.zone_name), [server.host_id])
    ctx.put_list(keys.ZONE_NAMES, [server.zone_name])
    build = templates.stop_server if kind == "stop" else templates.start_server
    return Plan(build(server.zone_name, server.id), ctx, (lock,), cluster)


async def submit(engine: Engine, plan: Plan, principal: Principal, trace_id: str | None) -> int:
    return await engine.submit(
        plan.template,
        plan.context,
        creator=principal.username,
        creator_id=principal.id,
        locks=plan.locks,
        cluster_id=plan.cluster.id,
        trace_id=trace_id,
    )


async def task_view(db: Database, task_id: int) -> dict[str, Any]:
    """Shape A, the seed's: what `POST …/clusters/{id}/restart` answers."""
    async with db.read() as conn:
        data = await load_task(conn, task_id, inventory.cluster_briefs)
    return seed_json(data)


async def full_task_view(db: Database, task_id: int) -> dict[str, Any]:
    """Shape B, what OCP's zone and server operations answer: every subtask in full, the context as JSON."""
    async with db.read() as conn:
        data = await load_task(conn, task_id, inventory.cluster_briefs)
    view = wrapped_json(data)
    view.pop("cluster", None)
    view["clusterId"] = data.task.cluster_id
    view["context"] = Context.from_json(data.task.context).as_json_object()
    view["creator"] = data.task.creator
    for sub, row in zip(view["subtasks"], data.subtasks, strict=True):
        sub["className"] = row.class_name
    return view


def dry_run_view(plan: Plan, mode: str | None = None) -> dict[str, Any]:
    """The seed's shape for the DAG that would run; ids are positions (1…n), nothing is created."""
    specs = plan.template.instantiate(plan.context)
    downs: dict[int, list[int]] = {sp.index: [] for sp in specs}
    for sp in specs:
        for up in sp.upstreams:
            downs[up].append(sp.index + 1)
    return {
        "dryRun": True,
        "cluster": {
            "id": plan.cluster.id,
            "name": plan.cluster.name,
            "obClusterId": plan.cluster.ob_cluster_id,
        },
        "context": plan.context.java_string(),
        "name": plan.template.name,
        "restartMode": mode,
        "zoneNames": plan.context.list_map.get(keys.ZONE_NAMES, []),
        "tasks": [
            {
                "description": sp.name,
                "downstreams": sorted(downs[sp.index]),
                "id": sp.index + 1,
                "name": sp.name,
                "operation": "EXECUTE",
                "parallelIdx": sp.parallel_idx,
                "status": "PENDING",
                "upstreams": sorted(u + 1 for u in sp.upstreams),
            }
            for sp in specs
        ],
    }
