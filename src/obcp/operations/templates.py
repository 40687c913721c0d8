"""The DAGs of cluster, zone and server operations, with OCP's task and subtask names, as OCP lists them.

For one zone with one server, "Restart OB cluster" is exactly the seed's 19 subtasks in the seed's order.
Zones repeat the zone chain (one after another when rolling, side by side when forced); per-server steps
fan out over `<clusterId>.<zone>.server_ids` with parallelIdx 0..n-1, and "Wait node" joins the fan-outs.
"""

from __future__ import annotations

from collections.abc import Sequence

from obcp.engine import Subtask, Template, TemplateBuilder, WaitNode
from obcp.operations import cluster_steps as c
from obcp.operations import keys
from obcp.operations import server_steps as s
from obcp.operations import zone_steps as z
from obcp.operations.lifecycle import Kind, Scope

RESTART_CLUSTER = "Restart OB cluster"
RESTART_ZONE = "Restart OB zone"
RESTART_SERVER = "Restart OB server"
STOP_CLUSTER = "Stop OB cluster"
START_CLUSTER = "Start OB cluster"
STOP_ZONE = "Stop OB zone"
START_ZONE = "Start OB zone"
STOP_SERVER = "Stop OB server"
START_SERVER = "Start OB server"


class ZoneSteps:
    """One zone's chain: each step follows the one before; `each` fans a step out over the zone's servers,
    `each_joined` also adds the "Wait node" that joins its instances."""

    def __init__(self, b: TemplateBuilder, cluster_id: int, zone: str, after: Sequence[int] = ()) -> None:
        self._b = b
        self._params = {"zone": zone}
        self._split = keys.server_ids(cluster_id, zone)
        self.tail: list[int] = list(after)

    def then(self, step: type[Subtask]) -> ZoneSteps:
        self.tail = [self._b.add(step, after=self.tail, params=self._params)]
        return self

    def each(self, step: type[Subtask]) -> ZoneSteps:
        self.tail = [self._b.add(step, after=self.tail, split_key=self._split, params=self._params)]
        return self

    def each_joined(self, step: type[Subtask]) -> ZoneSteps:
        return self.each(step).join()

    def join(self) -> ZoneSteps:
        self.tail = [self._b.add(WaitNode, after=self.tail)]
        return self

    def then_cluster(self, *steps: type[Subtask]) -> ZoneSteps:
        """Cluster-level steps closing a zone operation (they take no zone parameter)."""
        for step in steps:
            self.tail = [self._b.add(step, after=self.tail)]
        return self


def _restart_zone_chain(b: TemplateBuilder, cluster_id: int, zone: str, after: int) -> int:
    """Prepare restart OB zone … Update zone status for one zone; returns the last step's handle."""
    steps = (
        ZoneSteps(b, cluster_id, zone, [after])
        .then(z.PrepareRestartObZone)
        .each_joined(s.PrepareRestartObserver)
        .each_joined(s.StopObserverProcess)
        .each(s.StartObserverProcess)
        .each(s.WaitObserverAccessible)
        .each_joined(s.StartOcpAgentService)
        .each_joined(s.StartServer)
        .each(s.UpdateRestartObserverStatus)
        .then(z.StartZone)
        .then(z.UpdateRestartZoneStatus)
    )
    return steps.tail[0]


def restart_cluster(cluster_id: int, zones: Sequence[str], *, rolling: bool) -> Template:
    b = TemplateBuilder(RESTART_CLUSTER)
    prepare = b.add(c.PrepareRestartCluster)
    zone_context = b.add(c.SetZoneContext, after=[prepare])
    ends: list[int] = []
    tail = zone_context
    for zone in zones:
        end = _restart_zone_chain(b, cluster_id, zone, tail if rolling else zone_context)
        ends.append(end)
        tail = end
    sync = b.add(c.SyncClusterInfo, after=[tail] if rolling else ends)
    tenants = b.add(c.SyncAllTenantInfo, after=[sync])
    b.add(c.UpdateObClusterStatus, after=[tenants])
    return b.build()


def restart_zone(cluster_id: int, zone: str) -> Template:
    """OCP's "Restart OB zone": a separate "Stop zone", and one "Wait observer active" for the zone."""
    b = TemplateBuilder(RESTART_ZONE)
    (
        ZoneSteps(b, cluster_id, zone)
        .then(z.PrepareRestartObZoneAlone)
        .then(z.StopZone)
        .each_joined(s.PrepareRestartObserver)
        .each_joined(s.StopObserverProcess)
        .each(s.StartObserverProcess)
        .then(s.WaitObserverActive)
        .each_joined(s.StartOcpAgentService)
        .each(s.UpdateRestartObserverStatus)
        .then(z.StartZone)
        .then(z.UpdateRestartZoneStatus)
        .then_cluster(c.SyncClusterInfo, c.UpdateObClusterStatus)
    )
    return b.build()


def stop_cluster(cluster_id: int, zones: Sequence[str]) -> Template:
    """OCP's "Stop OB cluster": the zone chains side by side (a cluster stop is an outage by intent, so
    nothing is gained by stopping zones one after another)."""
    b = TemplateBuilder(STOP_CLUSTER)
    prepare = b.add(c.PrepareStopCluster)
    ends: list[int] = []
    for zone in zones:
        chain = (
            ZoneSteps(b, cluster_id, zone, [prepare])
            .then(z.PrepareStopObZone)
            .join()
            .each_joined(s.PrepareStopObserver)
            .each_joined(s.StopObserverProcess)
            .each_joined(s.UpdateStopObserverStatus)
            .then(z.UpdateStopZoneStatus)
        )
        ends += chain.tail
    b.add(c.UpdateStopClusterStatus, after=ends)
    return b.build()


def start_cluster(cluster_id: int, zones: Sequence[str]) -> Template:
    """OCP's "Start OB cluster": every zone's chain side by side, then tenants and the cluster status."""
    b = TemplateBuilder(START_CLUSTER)
    prepare = b.add(c.PrepareStartCluster)
    ends: list[int] = []
    for zone in zones:
        chain = (
            ZoneSteps(b, cluster_id, zone, [prepare])
            .then(z.PrepareStartObZone)
            .join()
            .each_joined(s.PrepareStartObserver)
            .each(s.StartObserverProcess)
            .each(s.WaitObserverAccessible)
            .each_joined(s.StartOcpAgentService)
            .each_joined(s.StartServerOnStart)
            .then(z.StartZoneOnStart)
            .join()
            .each_joined(s.UpdateStartObserverStatus)
            .then(z.UpdateStartZoneStatus)
        )
        ends += chain.tail
    tenants = b.add(c.SyncAllTenantInfo, after=ends)
    b.add(c.UpdateStartClusterStatus, after=[tenants])
    return b.build()


def stop_zone(cluster_id: int, zone: str) -> Template:
    b = TemplateBuilder(STOP_ZONE)
    (
        ZoneSteps(b, cluster_id, zone)
        .then(z.PrepareStopObZone)
        .then(z.StopZone)
        .each_joined(s.PrepareStopObserver)
        .each_joined(s.StopObserverProcess)
        .each(s.UpdateStopObserverStatus)
        .then(z.UpdateStopZoneStatus)
        .then_cluster(c.SyncClusterInfo, c.UpdateObClusterStatus)
    )
    return b.build()


def start_zone(cluster_id: int, zone: str) -> Template:
    b = TemplateBuilder(START_ZONE)
    (
        ZoneSteps(b, cluster_id, zone)
        .then(z.PrepareStartObZone)
        .each_joined(s.PrepareStartObserver)
        .each(s.StartObserverProcess)
        .then(s.WaitObserverActive)
        .each_joined(s.StartOcpAgentService)
        .each(s.UpdateStartObserverStatus)
        .then(z.StartZoneOnStart)
        .then(z.UpdateStartZoneStatus)
        .then_cluster(c.SyncClusterInfo, c.UpdateObClusterStatus)
    )
    return b.build()


def _server_chain(name: str, zone: str, server_id: int, steps: Sequence[type[Subtask]]) -> Template:
    """A server operation: one chain, every step about that one server (parallelIdx -1)."""
    b = TemplateBuilder(name)
    p = {"zone": zone, "server_id": str(server_id)}
    tail: list[int] = []
    for step in steps:
        tail = [b.add(step, after=tail, params=p)]
    return b.build()


def restart_server(zone: str, server_id: int) -> Template:
    return _server_chain(RESTART_SERVER, zone, server_id, [
        s.PrepareRestartObserver, s.StopServer, s.StopObserverProcess, s.StartObserverProcess,
        s.WaitObserverActive, s.StartOcpAgentService, s.StartServer, s.UpdateRestartObserverStatus,
        z.UpdateRestartZoneStatus, c.SyncClusterInfo, c.UpdateObClusterStatus,
    ])  # fmt: skip


def stop_server(zone: str, server_id: int) -> Template:
    return _server_chain(STOP_SERVER, zone, server_id, [
        s.PrepareStopObserver, s.StopServer, s.StopObserverProcess, s.WaitObserverStop,
        s.UpdateStopObserverStatus, z.UpdateZoneStatusAfterServerStop, c.SyncClusterInfo,
        c.UpdateObClusterStatus,
    ])  # fmt: skip


def start_server(zone: str, server_id: int) -> Template:
    return _server_chain(START_SERVER, zone, server_id, [
        s.PrepareStartObserver, s.StartObserverProcess, s.WaitObserverActive, s.StartOcpAgentService,
        s.StartServerOnStart, s.UpdateStartObserverStatus, z.UpdateZoneStatusAfterServerStart,
        c.SyncClusterInfo, c.UpdateObClusterStatus,
    ])  # fmt: skip


def template_for(
    scope: Scope, kind: Kind, cluster_id: int, zones: Sequence[str], server_id: int | None, *, rolling: bool
) -> Template:
    """The DAG of one operation: a cluster's over `zones`, a zone's over `zones[0]`, a server's."""
    if scope is Scope.SERVER:
        assert server_id is not None, "a server operation names its server"
        build_server = {Kind.RESTART: restart_server, Kind.STOP: stop_server, Kind.START: start_server}
        return build_server[kind](zones[0], server_id)
    if scope is Scope.ZONE:
        build_zone = {Kind.RESTART: restart_zone, Kind.STOP: stop_zone, Kind.START: start_zone}
        return build_zone[kind](cluster_id, zones[0])
    if kind is Kind.RESTART:
        return restart_cluster(cluster_id, zones, rolling=rolling)
    return (stop_cluster if kind is Kind.STOP else start_cluster)(cluster_id, zones)
