"""Zone-level steps: on a distributed cluster, STOP/START ZONE around the zone's restart; zone status."""

from __future__ import annotations

from typing import ClassVar

from obcp.engine import RunContext, Subtask, register
from obcp.meta import inventory
from obcp.ob.errors import ObOperationRefused
from obcp.operations import keys
from obcp.operations.common import (
    cluster_id,
    record_zone_states,
    services,
    set_zone_status,
    zone_of,
    zone_servers,
)

ZONE_IN_OPERATION = {"restart": "RESTARTING", "start": "STARTING", "stop": "STOPPING"}
ZONE_TARGET = {"restart": "RUNNING", "start": "RUNNING", "stop": "STOPPED"}


class PrepareZone(Subtask):
    """Zone gate: cluster healthy and, when rolling a distributed cluster, the zone stopped safely first."""

    kind: ClassVar[str] = "restart"
    # In a cluster operation this step also stops the zone; zone operations have a "Stop zone" step.
    stops_zone: ClassVar[bool] = True
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        refs = await zone_servers(ctx, zone)
        ctx.log.info("zone %s: %d server(s): %s", zone, len(refs), ", ".join(r.observer_name for r in refs))
        if self.kind != "start":
            # A start begins with observers down, and its "Start zone" reads DBA_OB_ZONES once they serve.
            await record_zone_states(ctx, [zone])
        if self.stops_zone:
            await stop_zone_if_needed(ctx, zone, self.kind)
        former = await set_zone_status(ctx, zone, ZONE_IN_OPERATION[self.kind])
        if ctx.get(keys.former_zone_status(zone)) is None:
            ctx.put(
                keys.former_zone_status(zone), "RUNNING" if former in ZONE_IN_OPERATION.values() else former
            )

    async def rollback(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        if ctx.get(keys.zone_stopped(zone)) == "true":
            async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
                result = await ops.start_zone(zone)
                ctx.log.info("rollback: %s", result.message)
        await set_zone_status(ctx, zone, ctx.get(keys.former_zone_status(zone)) or "RUNNING")


async def stop_zone_if_needed(ctx: RunContext, zone: str, operation: str) -> None:
    kind = ctx.get(keys.OB_KIND)
    if kind != "DISTRIBUTED":
        why = "standalone server" if kind == "STANDALONE" else "no observer answered SQL as the task began"
        ctx.log.info("%s: ALTER SYSTEM STOP ZONE, health gate and majority check not applicable", why)
        return
    if operation == "start":
        ctx.log.info("zone %s is being started: there is no zone to stop", zone)
        return
    if operation == "restart" and ctx.get(keys.RESTART_MODE, "ROLLING") != "ROLLING":
        ctx.log.info("force mode: zone %s is restarted without ALTER SYSTEM STOP ZONE", zone)
        return
    async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
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


@register
class PrepareRestartObZone(PrepareZone):
    key = "obcp.operations.PrepareRestartObZone"
    name = "Prepare restart OB zone"


@register
class PrepareStopObZone(PrepareZone):
    """A cluster stop takes every zone down, so no majority is left to protect and no STOP ZONE is sent;
    a zone stop has its own "Stop zone" step."""

    key = "obcp.operations.PrepareStopObZone"
    name = "Prepare stop OB zone"
    kind = "stop"
    stops_zone = False


@register
class PrepareStartObZone(PrepareZone):
    key = "obcp.operations.PrepareStartObZone"
    name = "Prepare start OB zone"
    kind = "start"
    stops_zone = False


class StartZoneStep(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        if self.kind == "start":
            # An earlier task (or a DBA) stopped the zone: DBA_OB_ZONES says whether START ZONE is needed.
            async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
                result = await ops.start_zone(zone)
            ctx.log.info("%s", result.message)
            return
        if ctx.get(keys.zone_stopped(zone)) != "true":
            ctx.log.info("zone %s was not stopped by this task: ALTER SYSTEM START ZONE not needed", zone)
            return
        async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            result = await ops.start_zone(zone)
        ctx.log.info("%s", result.message)


@register
class StartZone(StartZoneStep):
    key = "obcp.operations.StartZone"
    name = "Start zone"


@register
class StartZoneOnStart(StartZoneStep):
    key = "obcp.operations.StartZoneOnStart"
    name = "Start zone"
    kind = "start"


class UpdateZoneStatus(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        await set_zone_status(
            ctx, zone_of(ctx), ZONE_TARGET[self.kind], "ACTIVE" if self.kind != "stop" else "INACTIVE"
        )

    async def rollback(self, ctx: RunContext) -> None:
        await set_zone_status(ctx, zone_of(ctx), ZONE_IN_OPERATION[self.kind])


@register
class UpdateRestartZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateZoneStatus"
    name = "Update zone status"


@register
class UpdateStopZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateStopZoneStatus"
    name = "Update zone status"
    kind = "stop"


@register
class UpdateStartZoneStatus(UpdateZoneStatus):
    key = "obcp.operations.UpdateStartZoneStatus"
    name = "Update zone status"
    kind = "start"


class ServerZoneStatus(Subtask):
    """The zone's status after one of its servers stopped or started: STOPPED once every server of the
    zone is stopped, RUNNING again as soon as one of them runs; otherwise the zone keeps its status."""

    kind: ClassVar[str] = "stop"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        async with services(ctx).db.read() as conn:
            row = await inventory.zone_by_name(conn, cluster_id(ctx), zone)
        if ctx.get(keys.former_zone_status(zone)) is None:
            ctx.put(keys.former_zone_status(zone), row.status)
        refs = [r for r in await services(ctx).servers(cluster_id(ctx)) if r.zone_name == zone]
        running = [r for r in refs if r.status != "STOPPED"]
        if self.kind == "stop" and not running:
            await set_zone_status(ctx, zone, "STOPPED")
        elif self.kind == "start" and row.status == "STOPPED":
            await set_zone_status(ctx, zone, "RUNNING")
        else:
            ctx.log.info(
                "zone %s stays %s: %d of %d server(s) not stopped", zone, row.status, len(running), len(refs)
            )

    async def rollback(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        former = ctx.get(keys.former_zone_status(zone))
        if former is not None:
            await set_zone_status(ctx, zone, former)


@register
class UpdateZoneStatusAfterServerStop(ServerZoneStatus):
    key = "obcp.operations.UpdateZoneStatusAfterServerStop"
    name = "Update zone status"
    kind = "stop"


@register
class UpdateZoneStatusAfterServerStart(ServerZoneStatus):
    key = "obcp.operations.UpdateZoneStatusAfterServerStart"
    name = "Update zone status"
    kind = "start"


@register
class PrepareRestartObZoneAlone(PrepareZone):
    """ "Prepare restart OB zone" of a zone restart, where a separate "Stop zone" step follows."""

    key = "obcp.operations.PrepareRestartObZoneAlone"
    name = "Prepare restart OB zone"
    stops_zone = False


class StopZoneStep(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        await stop_zone_if_needed(ctx, zone_of(ctx), self.kind)

    async def rollback(self, ctx: RunContext) -> None:
        zone = zone_of(ctx)
        if ctx.get(keys.zone_stopped(zone)) == "true":
            async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
                result = await ops.start_zone(zone)
            ctx.log.info("rollback: %s", result.message)


@register
class StopZone(StopZoneStep):
    key = "obcp.operations.StopZone"
    name = "Stop zone"
