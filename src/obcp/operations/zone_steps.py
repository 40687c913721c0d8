"""Zone-level steps: on a distributed cluster, STOP/START ZONE around the zone's restart; zone status."""

from __future__ import annotations

from typing import ClassVar

from obcp.engine import RunContext, Subtask, register
from obcp.meta import inventory
from obcp.meta.statuses import ServerStatus, ZoneStatus
from obcp.ob.errors import ObOperationRefused
from obcp.operations import keys
from obcp.operations.common import (
    cluster_id,
    record_zone_states,
    set_zone_status,
    zone_of,
    zone_servers,
)
from obcp.operations.lifecycle import ZONE, Kind, Scope, former, zone_after_server
from obcp.operations.services import OperationServices


class PrepareZone(Subtask):
    """Zone gate: cluster healthy and, when rolling a distributed cluster, the zone stopped safely first."""

    kind: ClassVar[Kind] = Kind.RESTART
    # In a cluster restart this step also stops the zone; zone operations have a "Stop zone" step.
    stops_zone: ClassVar[bool] = False
    # A start begins with observers down, and its "Start zone" reads DBA_OB_ZONES once they serve.
    records_zone_states: ClassVar[bool] = True
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        refs = await zone_servers(ctx, zone)
        ctx.log.info("zone %s: %d server(s): %s", zone, len(refs), ", ".join(r.observer_name for r in refs))
        if self.records_zone_states:
            await record_zone_states(ctx, [zone])
        if self.stops_zone:
            await stop_zone_if_needed(ctx, zone)
        found = await set_zone_status(ctx, zone, ZONE[self.kind].during)
        if ctx.get(keys.former_zone_status(zone)) is None:
            ctx.put(keys.former_zone_status(zone), former(Scope.ZONE, found))

    async def rollback(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        await _start_zone_stopped_by_task(ctx, zone)
        await set_zone_status(ctx, zone, ctx.get(keys.former_zone_status(zone)) or ZoneStatus.RUNNING)


async def stop_zone_if_needed(ctx: RunContext, zone: str) -> None:
    """ALTER SYSTEM STOP ZONE on a distributed cluster, after its health gate, unless the restart is
    forced; notes in the context that this task stopped the zone."""
    kind = ctx.get(keys.OB_KIND)
    if kind != "DISTRIBUTED":
        why = "standalone server" if kind == "STANDALONE" else "no observer answered SQL as the task began"
        ctx.log.info("%s: ALTER SYSTEM STOP ZONE, health gate and majority check not applicable", why)
        return
    if ctx.get(keys.RESTART_MODE, "ROLLING") != "ROLLING":
        ctx.log.info("force mode: zone %s is restarted without ALTER SYSTEM STOP ZONE", zone)
        return
    async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
        # A retry after this zone was stopped must not be refused because of its own stop.
        health = await ops.health_gate(ignore_zones=[zone])
        ctx.log.info("health gate: %s", health.describe())
        if not health.healthy:
            raise ObOperationRefused(f"zone {zone} is not stopped: {health.describe()}")
        # stop_zone checks that a majority of every log stream stays, and refuses otherwise.
        result = await ops.stop_zone(zone)
    ctx.log.info("%s", result.message)
    # ACTIVE when the task began ("Set zone context") means this task stopped it, also when a retry
    # finds it INACTIVE already: START ZONE must follow.
    if result.acted or ctx.get(keys.zone_active_before(zone)) == "true":
        ctx.put(keys.zone_stopped(zone), "true")


async def _start_zone(ctx: RunContext, zone: str, prefix: str = "") -> None:
    async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
        result = await ops.start_zone(zone)
    ctx.log.info("%s%s", prefix, result.message)


async def _start_zone_stopped_by_task(ctx: RunContext, zone: str) -> None:
    if ctx.get(keys.zone_stopped(zone)) == "true":
        await _start_zone(ctx, zone, "rollback: ")


@register
class PrepareRestartObZone(PrepareZone):
    key = "obcp.operations.PrepareRestartObZone"
    name = "Prepare restart OB zone"
    stops_zone = True


@register
class PrepareRestartObZoneAlone(PrepareZone):
    """ "Prepare restart OB zone" of a zone restart, where a separate "Stop zone" step follows."""

    key = "obcp.operations.PrepareRestartObZoneAlone"
    name = "Prepare restart OB zone"


@register
class PrepareStopObZone(PrepareZone):
    """A cluster stop takes every zone down, so no majority is left to protect and no STOP ZONE is sent;
    a zone stop has its own "Stop zone" step."""

    key = "obcp.operations.PrepareStopObZone"
    name = "Prepare stop OB zone"
    kind = Kind.STOP


@register
class PrepareStartObZone(PrepareZone):
    key = "obcp.operations.PrepareStartObZone"
    name = "Prepare start OB zone"
    kind = Kind.START
    records_zone_states = False


@register
class StopZone(Subtask):
    key = "obcp.operations.StopZone"
    name = "Stop zone"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        await stop_zone_if_needed(ctx, zone_of(ctx))

    async def rollback(self, ctx: RunContext) -> None:
        await _start_zone_stopped_by_task(ctx, zone_of(ctx))


@register
class StartZone(Subtask):
    """START ZONE after a restart, for a zone this task stopped (and only then)."""

    key = "obcp.operations.StartZone"
    name = "Start zone"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        if ctx.get(keys.zone_stopped(zone)) != "true":
            ctx.log.info("zone %s was not stopped by this task: ALTER SYSTEM START ZONE not needed", zone)
            return
        await _start_zone(ctx, zone)


@register
class StartZoneOnStart(Subtask):
    """START ZONE of a start: an earlier task (or a DBA) stopped the zone, so DBA_OB_ZONES, not this
    task's context, says whether it is needed."""

    key = "obcp.operations.StartZoneOnStart"
    name = "Start zone"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        await _start_zone(ctx, zone_of(ctx))


class UpdateZoneStatus(Subtask):
    kind: ClassVar[Kind] = Kind.RESTART
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        lifecycle = ZONE[self.kind]
        await set_zone_status(ctx, zone_of(ctx), lifecycle.on_success, lifecycle.inner_on_success)

    async def rollback(self, ctx: RunContext) -> None:
        await set_zone_status(ctx, zone_of(ctx), ZONE[self.kind].during)


@register
class UpdateRestartZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateZoneStatus"
    name = "Update zone status"


@register
class UpdateStopZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateStopZoneStatus"
    name = "Update zone status"
    kind = Kind.STOP


@register
class UpdateStartZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateStartZoneStatus"
    name = "Update zone status"
    kind = Kind.START


class ServerZoneStatus(Subtask):
    """The zone's status after one of its servers stopped or started (`lifecycle.zone_after_server`)."""

    kind: ClassVar[Kind] = Kind.STOP
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        services = OperationServices.of(ctx)
        async with services.db.read() as conn:
            row = await inventory.zone_by_name(conn, cluster_id(ctx), zone)
        if ctx.get(keys.former_zone_status(zone)) is None:
            ctx.put(keys.former_zone_status(zone), row.status)
        refs = [r for r in await services.servers(cluster_id(ctx)) if r.zone_name == zone]
        status = zone_after_server(self.kind, row.status, [r.status for r in refs])
        if status is not None:
            await set_zone_status(ctx, zone, status)
        else:
            running = [r for r in refs if r.status != ServerStatus.STOPPED]
            ctx.log.info(
                "zone %s stays %s: %d of %d server(s) not stopped", zone, row.status, len(running), len(refs)
            )

    async def rollback(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        found = ctx.get(keys.former_zone_status(zone))
        if found is not None:
            await set_zone_status(ctx, zone, found)


@register
class UpdateZoneStatusAfterServerStop(ServerZoneStatus):
    key = "obcp.operations.UpdateZoneStatusAfterServerStop"
    name = "Update zone status"


@register
class UpdateZoneStatusAfterServerStart(ServerZoneStatus):
    key = "obcp.operations.UpdateZoneStatusAfterServerStart"
    name = "Update zone status"
    kind = Kind.START
