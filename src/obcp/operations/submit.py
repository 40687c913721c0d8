"""Validation and submission of cluster, zone and server operations: the checks that answer an API call at
once (unknown target, busy, wrong state), then the task created whole by the engine.

One planner serves every (scope, kind): it reads the target, asks who holds a conflicting lock, checks the
statuses against the lifecycle table, picks the zones and servers the task covers, and builds the context
and the template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine import Context, Engine, ResourceLock, Template, lock_holder
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.meta.db import Database
from obcp.meta.statuses import ServerStatus
from obcp.operations import keys, templates
from obcp.operations.lifecycle import CLUSTER, CLUSTER_UP, Kind, Scope, transition

RestartMode = Literal["ROLLING", "FORCE"]

_BUSY = {
    Scope.CLUSTER: ErrorCode.CLUSTER_BUSY,
    Scope.ZONE: ErrorCode.ZONE_BUSY,
    Scope.SERVER: ErrorCode.SERVER_BUSY,
}


@dataclass(frozen=True)
class Operation:
    """What an API call asks for: a kind of operation on a cluster, one of its zones or one server."""

    scope: Scope
    kind: Kind
    cluster_id: int
    zone_name: str | None = None
    server_id: int | None = None
    # A cluster restart's options (a zone restart is always rolling).
    mode: RestartMode = "ROLLING"
    zone_names: tuple[str, ...] | None = None
    # A server restart without ALTER SYSTEM STOP SERVER.
    force: bool = False
    # A restart's ALTER SYSTEM MINOR FREEZE before each observer stops.
    minor_freeze: bool = True


@dataclass(frozen=True)
class Plan:
    """What an operation will run: the template, its context, the locks, for a submit or a dry run."""

    operation: Operation
    template: Template
    context: Context
    locks: tuple[ResourceLock, ...]
    cluster: Any


@dataclass(frozen=True)
class _Target:
    """The inventory rows an operation names, read in one transaction."""

    cluster: Any
    lock: ResourceLock
    # Every zone in the operation's reach, in the cluster's order, with its servers in the operation.
    zones: list[tuple[str, list[Any]]]
    zone: Any = None
    server: Any = None


async def plan(db: Database, op: Operation) -> Plan:
    async with db.read() as conn:
        target = await _read_target(conn, op)
        # Asked before the state check, so a second call during an operation gets "busy, task N", not
        # "cluster RESTARTING".
        holder = await lock_holder(conn, target.lock)
    _refuse_busy(_BUSY[op.scope], holder)
    _refuse_state(op, target)
    zones = _zones_to_run(op, target)
    cluster = target.cluster
    names = [name for name, _ in zones]
    template = templates.template_for(
        op.scope, op.kind, cluster.id, names, op.server_id, rolling=op.mode == "ROLLING"
    )
    return Plan(op, template, _context(op, cluster, zones), (target.lock,), cluster)


async def _read_target(conn: AsyncConnection, op: Operation) -> _Target:
    cluster = await inventory.get_cluster(conn, op.cluster_id)
    if op.scope is Scope.CLUSTER:
        zones = await inventory.zones_of(conn, [cluster.id])
        servers = await inventory.servers_of(conn, [cluster.id])
        groups = [(zr.name, [sv for sv in servers if sv.zone_name == zr.name]) for zr in zones]
        return _Target(cluster, ResourceLock.cluster(cluster.id), groups)
    if op.scope is Scope.ZONE:
        assert op.zone_name is not None, "a zone operation names its zone"
        zone = await inventory.zone_by_name(conn, cluster.id, op.zone_name)
        servers = await inventory.servers_of(conn, [cluster.id], zone_id=zone.id)
        return _Target(cluster, ResourceLock.zone(zone.id, cluster.id), [(zone.name, servers)], zone=zone)
    servers = await inventory.servers_of(conn, [cluster.id])
    server = next((sv for sv in servers if sv.id == op.server_id), None)
    if server is None:
        raise ObcpError(ErrorCode.SERVER_NOT_FOUND, op.server_id)
    lock = ResourceLock.server(server.id, cluster.id, server.zone_id)
    return _Target(cluster, lock, [(server.zone_name, [server])], server=server)


def _refuse_busy(code: ErrorCode, holder: Any) -> None:
    if holder is not None:
        raise ObcpError(
            code, f"{holder.name} (task {holder.id}, {holder.state})", target={"taskId": holder.id}
        )


def _refuse_state(op: Operation, target: _Target) -> None:
    cluster = target.cluster
    cluster_from = CLUSTER[op.kind].allowed_from if op.scope is Scope.CLUSTER else CLUSTER_UP
    if cluster.status not in cluster_from:
        raise ObcpError(ErrorCode.CLUSTER_STATE_INVALID, cluster.name, cluster.status)
    allowed = transition(op.scope, op.kind).allowed_from
    zone, server = target.zone, target.server
    if zone is not None and zone.status not in allowed:
        # A zone restart has always named the zone alone.
        shown = zone.name if op.kind is Kind.RESTART else f"{zone.name} ({zone.status})"
        raise ObcpError(ErrorCode.ZONE_STATE_INVALID, shown)
    if server is not None and server.status not in allowed:
        expected = ServerStatus.RUNNING if op.kind is Kind.RESTART else " or ".join(allowed)
        raise ObcpError(ErrorCode.SERVER_STATE_INVALID, server.status, expected)


def _zones_to_run(op: Operation, target: _Target) -> list[tuple[str, list[Any]]]:
    """The zones the task covers, each with its servers; a zone without a server to act on is refused
    when the caller named it, and left out of a cluster's start or stop."""
    zones = target.zones
    if op.scope is Scope.ZONE and not zones[0][1]:
        raise ObcpError(
            ErrorCode.ILLEGAL_ARGUMENT, f"zoneName (zone {zones[0][0]} has no server to {op.kind})"
        )
    if op.scope is not Scope.CLUSTER:
        return zones
    if op.kind is not Kind.RESTART:
        zones = [(name, servers) for name, servers in zones if servers]
        if not zones:
            raise ObcpError(
                ErrorCode.ILLEGAL_ARGUMENT, f"cluster {target.cluster.name} has no server to {op.kind}"
            )
        return zones
    if op.zone_names is not None:
        unknown = [n for n in op.zone_names if n not in [name for name, _ in zones]]
        if unknown:
            raise ObcpError(ErrorCode.ZONE_NOT_FOUND, op.cluster_id, ", ".join(unknown))
        if not op.zone_names:
            raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, "zoneNames (an empty list restarts nothing)")
        # The cluster's zone order, not the caller's.
        zones = [(name, servers) for name, servers in zones if name in op.zone_names]
    for name, servers in zones:
        if not servers:
            raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"zoneNames (zone {name} has no server to restart)")
    return zones


def _context(op: Operation, cluster: Any, zones: list[tuple[str, list[Any]]]) -> Context:
    ctx = Context()
    ctx.put(keys.CLUSTER_NAME, cluster.name)
    ctx.put(keys.CLUSTER_ID, cluster.id)
    ctx.put(keys.AGENT_SERVICE_NAME, "agent")
    ctx.put(keys.FORMER_CLUSTER_STATUS, cluster.status)
    ctx.put(keys.OPERATION_KIND, op.kind)
    if op.kind is Kind.RESTART:
        ctx.put(keys.MINOR_FREEZE, str(op.minor_freeze).lower())
    if op.kind is not Kind.RESTART:
        ctx.put(keys.OPERATION_SCOPE, op.scope)
        if op.scope is Scope.CLUSTER:
            ctx.put(keys.TARGET_CLUSTER_STATUS, CLUSTER[op.kind].on_success)
    elif op.scope is Scope.SERVER:
        ctx.put(keys.FORCE, str(op.force).lower())
    else:
        ctx.put(keys.RESTART_MODE, op.mode)
    for name, servers in zones:
        ctx.put_list(keys.server_ids(cluster.id, name), [sv.id for sv in servers])
        ctx.put_list(keys.host_ids(cluster.id, name), [sv.host_id for sv in servers])
    ctx.put_list(keys.ZONE_NAMES, [name for name, _ in zones])
    return ctx


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
