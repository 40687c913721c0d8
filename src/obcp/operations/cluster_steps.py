"""Cluster-level steps: prepare (status, reachability), zone context, sync, final status."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from obcp.agent.client import AgentError
from obcp.engine import RunContext, Subtask, register
from obcp.meta import inventory
from obcp.meta.inventory import ServerRef
from obcp.meta.statuses import ClusterStatus
from obcp.ob.topology import read_tenants, read_topology
from obcp.operations import keys
from obcp.operations.common import (
    cluster_id,
    label,
    record_zone_states,
    set_cluster_status,
    zone_servers,
)
from obcp.operations.lifecycle import CLUSTER, Kind
from obcp.operations.services import ClusterUnreachable, OperationServices, describe_process
from obcp.parameters.verify import verify_restarted


class PrepareCluster(Subtask):
    kind: ClassVar[Kind] = Kind.RESTART
    # A stop's outage is its purpose and a start begins from one: only a restart is measured.
    watches_availability: ClassVar[bool] = True
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        cid = cluster_id(ctx)
        async with OperationServices.of(ctx).db.read() as conn:
            row = await inventory.get_cluster(conn, cid)
        lifecycle = CLUSTER[self.kind]
        busy = lifecycle.during
        if row.status not in (*lifecycle.allowed_from, busy):
            raise RuntimeError(f"cluster {row.name} is {row.status}: a {self.kind} is not possible now")
        await _agents_answer(ctx, ctx.context.list_map.get(keys.ZONE_NAMES, []))
        if row.status != busy:
            await set_cluster_status(ctx, busy)
        if self.watches_availability:
            await OperationServices.of(ctx).watch_availability(ctx.task_id, cid)

    async def rollback(self, ctx: RunContext) -> None:
        former = ctx.get(keys.FORMER_CLUSTER_STATUS) or ClusterStatus.RUNNING
        await set_cluster_status(ctx, former)
        await _report_availability(ctx)


async def _agents_answer(ctx: RunContext, zones: list[str]) -> None:
    """Every agent of the operation must answer before anything is stopped; asked all at once (one after
    another, 30 servers took ~1 s on a loaded server: bench/fleet)."""
    refs = [ref for zone in zones for ref in await zone_servers(ctx, zone)]

    async def status(ref: ServerRef) -> dict[str, Any]:
        try:
            return await OperationServices.of(ctx).agent(ref).status(ref.observer_name, ports=False)
        except AgentError as exc:
            raise RuntimeError(f"{label(ref)}: its agent does not answer: {exc}") from exc

    for ref, found in zip(refs, await asyncio.gather(*(status(r) for r in refs)), strict=True):
        ctx.log.info("%s: %s", label(ref), describe_process(found))


@register
class PrepareRestartCluster(PrepareCluster):
    key = "obcp.operations.PrepareRestartCluster"
    name = "Prepare restart cluster"


@register
class PrepareStopCluster(PrepareCluster):
    key = "obcp.operations.PrepareStopCluster"
    name = "Prepare stop cluster"
    kind = Kind.STOP
    watches_availability = False


@register
class PrepareStartCluster(PrepareCluster):
    key = "obcp.operations.PrepareStartCluster"
    name = "Prepare start cluster"
    kind = Kind.START
    watches_availability = False


@register
class SetZoneContext(Subtask):
    key = "obcp.operations.SetZoneContext"
    name = "Set zone context"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        cid = cluster_id(ctx)
        zones = ctx.context.list_map.get(keys.ZONE_NAMES, [])
        mode = ctx.get(keys.RESTART_MODE) or "ROLLING"
        order = " -> ".join(zones) if mode == "ROLLING" else ", ".join(zones) + " (all at once)"
        ctx.log.info("%s restart of %d zone(s): %s", mode.lower(), len(zones), order)
        await record_zone_states(ctx, zones)
        known = {r.id for r in await OperationServices.of(ctx).servers(cid)}
        for zone in zones:
            ids = ctx.context.list_map.get(keys.server_ids(cid, zone), [])
            gone = [i for i in ids if int(i) not in known]
            if gone:
                raise RuntimeError(f"zone {zone}: server(s) {', '.join(gone)} are no longer in the inventory")
            ctx.log.info("zone %s: servers %s", zone, ", ".join(ids))


@register
class SyncClusterInfo(Subtask):
    key = "obcp.operations.SyncClusterInfo"
    name = "Sync cluster info"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        cid = cluster_id(ctx)
        try:
            async with OperationServices.of(ctx).cluster_sql(cid, log=ctx.log.info) as ops:
                topology = await read_topology(ops.ex, ops.capability)
        except ClusterUnreachable as exc:
            if ctx.get(keys.OPERATION_KIND) == Kind.STOP:
                ctx.log.info("cluster is stopped: nothing to read (%s)", exc)
                return
            raise
        cap = topology.capability
        version = f"{cap.product} {cap.version_text}".strip()
        async with OperationServices.of(ctx).db.tx() as conn:
            row = await inventory.get_cluster(conn, cid)
            await inventory.set_cluster_status(conn, cid, row.status, ob_version=version)
        ctx.log.info(
            "%s cluster, version %s; zones: %s; %d server(s) reported",
            cap.kind.value.lower(),
            version,
            ", ".join(topology.zone_names),
            len(topology.servers),
        )
        if ctx.get(keys.OPERATION_KIND) == Kind.RESTART:
            await verify_parameters(ctx)


async def verify_parameters(ctx: RunContext) -> None:
    """A restart's proof that the static parameters pending on the servers it restarted took effect."""
    cid = cluster_id(ctx)
    fixed = ctx.params.get("server_id")
    if fixed:
        ids = [int(fixed)]
    else:
        zones = ctx.context.list_map.get(keys.ZONE_NAMES, [])
        ids = [int(i) for z in zones for i in ctx.context.list_map.get(keys.server_ids(cid, z), [])]
    before = {i: ctx.get(keys.service_time_before(i)) for i in ids}
    restarted = {i: (int(v) if v else None) for i, v in before.items()}
    await verify_restarted(OperationServices.of(ctx), cid, restarted, lambda line: ctx.log.info("%s", line))


@register
class SyncAllTenantInfo(Subtask):
    key = "obcp.operations.SyncAllTenantInfo"
    name = "Sync all tenant information"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            tenants = await read_tenants(ops.ex, ops.capability)
        for t in tenants:
            ctx.log.info("tenant %s (id %d, %s): %s", t.name, t.tenant_id, t.tenant_type, t.status)


async def _report_availability(ctx: RunContext) -> None:
    ops = OperationServices.of(ctx)
    if ops.availability is None:
        return
    figure = await ops.availability.finish(ctx.task_id)
    if figure is not None:
        ctx.log.info("Availability during this task: %s", figure.describe())


class UpdateClusterStatus(Subtask):
    kind: ClassVar[Kind] = Kind.RESTART
    timeout = 30
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        lifecycle = CLUSTER[self.kind]
        former = ctx.get(keys.FORMER_CLUSTER_STATUS) if lifecycle.restores_former else None
        await set_cluster_status(ctx, former or lifecycle.on_success)
        await _report_availability(ctx)

    async def rollback(self, ctx: RunContext) -> None:
        await set_cluster_status(ctx, CLUSTER[self.kind].during)


@register
class UpdateObClusterStatus(UpdateClusterStatus):
    key = "obcp.operations.UpdateObClusterStatus"
    name = "Update OB cluster status"


@register
class UpdateStopClusterStatus(UpdateClusterStatus):
    key = "obcp.operations.UpdateStopClusterStatus"
    name = "Update OB cluster status"
    kind = Kind.STOP


@register
class UpdateStartClusterStatus(UpdateClusterStatus):
    key = "obcp.operations.UpdateStartClusterStatus"
    name = "Update OB cluster status"
    kind = Kind.START
