"""The DAGs of cluster, zone and server operations, with OCP's task and subtask names.

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

RESTART_CLUSTER = "Restart OB cluster"


def _restart_zone_chain(b: TemplateBuilder, cluster_id: int, zone: str, after: int) -> int:
    """Prepare restart OB zone … Update zone status for one zone; returns the last step's handle."""
    p = {"zone": zone}
    split = keys.server_ids(cluster_id, zone)
    prepare_zone = b.add(z.PrepareRestartObZone, after=[after], params=p)
    prepare = b.add(s.PrepareRestartObserver, after=[prepare_zone], split_key=split, params=p)
    wait = b.add(WaitNode, after=[prepare])
    stop = b.add(s.StopObserverProcess, after=[wait], split_key=split, params=p)
    wait = b.add(WaitNode, after=[stop])
    start = b.add(s.StartObserverProcess, after=[wait], split_key=split, params=p)
    accessible = b.add(s.WaitObserverAccessible, after=[start], split_key=split, params=p)
    agent = b.add(s.StartOcpAgentService, after=[accessible], split_key=split, params=p)
    wait = b.add(WaitNode, after=[agent])
    start_server = b.add(s.StartServer, after=[wait], split_key=split, params=p)
    wait = b.add(WaitNode, after=[start_server])
    update = b.add(s.UpdateRestartObserverStatus, after=[wait], split_key=split, params=p)
    start_zone = b.add(z.StartZone, after=[update], params=p)
    return b.add(z.UpdateRestartZoneStatus, after=[start_zone], params=p)


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


RESTART_ZONE = "Restart OB zone"
RESTART_SERVER = "Restart OB server"


def restart_zone(cluster_id: int, zone: str) -> Template:
    """OCP's "Restart OB zone": a separate "Stop zone", and one "Wait observer active" for the zone."""
    b = TemplateBuilder(RESTART_ZONE)
    p = {"zone": zone}
    split = keys.server_ids(cluster_id, zone)
    prepare_zone = b.add(z.PrepareRestartObZoneAlone, params=p)
    stop_zone = b.add(z.StopZone, after=[prepare_zone], params=p)
    prepare = b.add(s.PrepareRestartObserver, after=[stop_zone], split_key=split, params=p)
    wait = b.add(WaitNode, after=[prepare])
    stop = b.add(s.StopObserverProcess, after=[wait], split_key=split, params=p)
    wait = b.add(WaitNode, after=[stop])
    start = b.add(s.StartObserverProcess, after=[wait], split_key=split, params=p)
    active = b.add(s.WaitObserverActive, after=[start], params=p)
    agent = b.add(s.StartOcpAgentService, after=[active], split_key=split, params=p)
    wait = b.add(WaitNode, after=[agent])
    update = b.add(s.UpdateRestartObserverStatus, after=[wait], split_key=split, params=p)
    start_zone = b.add(z.StartZone, after=[update], params=p)
    zone_status = b.add(z.UpdateRestartZoneStatus, after=[start_zone], params=p)
    sync = b.add(c.SyncClusterInfo, after=[zone_status])
    b.add(c.UpdateObClusterStatus, after=[sync])
    return b.build()


def restart_server(zone: str, server_id: int) -> Template:
    """OCP's "Restart OB server": one chain, every step about that one server (parallelIdx -1)."""
    b = TemplateBuilder(RESTART_SERVER)
    p = {"zone": zone, "server_id": str(server_id)}
    steps: list[type[Subtask]] = [
        s.PrepareRestartObserver, s.StopServer, s.StopObserverProcess, s.StartObserverProcess,
        s.WaitObserverActive, s.StartOcpAgentService, s.StartServer, s.UpdateRestartObserverStatus,
        z.UpdateRestartZoneStatus,
    ]  # fmt: skip
    tail: list[int] = []
    for step in steps:
        tail = [b.add(step, after=tail, params=p)]
    sync = b.add(c.SyncClusterInfo, after=tail)
    b.add(c.UpdateObClusterStatus, after=[sync])
    return b.build()


STOP_CLUSTER = "Stop OB cluster"
START_CLUSTER = "Start OB cluster"
STOP_ZONE = "Stop OB zone"
START_ZONE = "Start OB zone"
STOP_SERVER = "Stop OB server"
START_SERVER = "Start OB server"


def stop_cluster(cluster_id: int, zones: Sequence[str]) -> Template:
    """OCP's "Stop OB cluster": the zone chains side by side (a cluster stop is an outage by intent, so
    nothing is gained by stopping zones one after another)."""
    b = TemplateBuilder(STOP_CLUSTER)
    prepare = b.add(c.PrepareStopCluster)
    ends: list[int] = []
    for zone in zones:
        p = {"zone": zone}
        split = keys.server_ids(cluster_id, zone)
        prepare_zone = b.add(z.PrepareStopObZone, after=[prepare], params=p)
        wait = b.add(WaitNode, after=[prepare_zone])
        observers = b.add(s.PrepareStopObserver, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[observers])
        stop = b.add(s.StopObserverProcess, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[stop])
        update = b.add(s.UpdateStopObserverStatus, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[update])
        ends.append(b.add(z.UpdateStopZoneStatus, after=[wait], params=p))
    b.add(c.UpdateStopClusterStatus, after=ends)
    return b.build()


def start_cluster(cluster_id: int, zones: Sequence[str]) -> Template:
    """OCP's "Start OB cluster": every zone's chain side by side, then tenants and the cluster status."""
    b = TemplateBuilder(START_CLUSTER)
    prepare = b.add(c.PrepareStartCluster)
    ends: list[int] = []
    for zone in zones:
        p = {"zone": zone}
        split = keys.server_ids(cluster_id, zone)
        prepare_zone = b.add(z.PrepareStartObZone, after=[prepare], params=p)
        wait = b.add(WaitNode, after=[prepare_zone])
        observers = b.add(s.PrepareStartObserver, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[observers])
        start = b.add(s.StartObserverProcess, after=[wait], split_key=split, params=p)
        accessible = b.add(s.WaitObserverAccessible, after=[start], split_key=split, params=p)
        agent = b.add(s.StartOcpAgentService, after=[accessible], split_key=split, params=p)
        wait = b.add(WaitNode, after=[agent])
        start_server = b.add(s.StartServerOnStart, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[start_server])
        start_zone = b.add(z.StartZoneOnStart, after=[wait], params=p)
        wait = b.add(WaitNode, after=[start_zone])
        update = b.add(s.UpdateStartObserverStatus, after=[wait], split_key=split, params=p)
        wait = b.add(WaitNode, after=[update])
        ends.append(b.add(z.UpdateStartZoneStatus, after=[wait], params=p))
    tenants = b.add(c.SyncAllTenantInfo, after=ends)
    b.add(c.UpdateStartClusterStatus, after=[tenants])
    return b.build()


def stop_zone(cluster_id: int, zone: str) -> Template:
    b = TemplateBuilder(STOP_ZONE)
    p = {"zone": zone}
    split = keys.server_ids(cluster_id, zone)
    prepare_zone = b.add(z.PrepareStopObZone, params=p)
    stop_zone = b.add(z.StopZone, after=[prepare_zone], params=p)
    observers = b.add(s.PrepareStopObserver, after=[stop_zone], split_key=split, params=p)
    wait = b.add(WaitNode, after=[observers])
    stop = b.add(s.StopObserverProcess, after=[wait], split_key=split, params=p)
    wait = b.add(WaitNode, after=[stop])
    update = b.add(s.UpdateStopObserverStatus, after=[wait], split_key=split, params=p)
    zone_status = b.add(z.UpdateStopZoneStatus, after=[update], params=p)
    sync = b.add(c.SyncClusterInfo, after=[zone_status])
    b.add(c.UpdateObClusterStatus, after=[sync])
    return b.build()


def start_zone(cluster_id: int, zone: str) -> Template:
    b = TemplateBuilder(START_ZONE)
    p = {"zone": zone}
    split = keys.server_ids(cluster_id, zone)
    prepare_zone = b.add(z.PrepareStartObZone, params=p)
    observers = b.add(s.PrepareStartObserver, after=[prepare_zone], split_key=split, params=p)
    wait = b.add(WaitNode, after=[observers])
    start = b.add(s.StartObserverProcess, after=[wait], split_key=split, params=p)
    active = b.add(s.WaitObserverActive, after=[start], params=p)
    agent = b.add(s.StartOcpAgentService, after=[active], split_key=split, params=p)
    wait = b.add(WaitNode, after=[agent])
    update = b.add(s.UpdateStartObserverStatus, after=[wait], split_key=split, params=p)
    start_zone = b.add(z.StartZoneOnStart, after=[update], params=p)
    zone_status = b.add(z.UpdateStartZoneStatus, after=[start_zone], params=p)
    sync = b.add(c.SyncClusterInfo, after=[zone_status])
    b.add(c.UpdateObClusterStatus, after=[sync])
    return b.build()


def _server_chain(name: str, zone: str, server_id: int, steps: Sequence[type[Subtask]]) -> Template:
    b = TemplateBuilder(name)
    p = {"zone": zone, "server_id": str(server_id)}
    tail: list[int] = []
    for step in [*steps, c.SyncClusterInfo, c.UpdateObClusterStatus]:
        tail = [b.add(step, after=tail, params=p)]
    return b.build()


def stop_server(zone: str, server_id: int) -> Template:
    steps: list[type[Subtask]] = [
        s.PrepareStopObserver, s.StopServer, s.StopObserverProcess, s.WaitObserverStop,
        s.UpdateStopObserverStatus, z.UpdateZoneStatusAfterServerStop,
    ]  # fmt: skip
    return _server_chain(STOP_SERVER, zone, server_id, steps)


def start_server(zone: str, server_id: int) -> Template:
    steps: list[type[Subtask]] = [
        s.PrepareStartObserver, s.StartObserverProcess, s.WaitObserverActive, s.StartOcpAgentService,
        s.StartServerOnStart, s.UpdateStartObserverStatus, z.UpdateZoneStatusAfterServerStart,
    ]  # fmt: skip
    return _server_chain(START_SERVER, zone, server_id, steps)
