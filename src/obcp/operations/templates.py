"""The DAGs of cluster, zone and server operations, with OCP's task and subtask names.

For one zone with one server, "Restart OB cluster" is exactly the seed's 19 subtasks in the seed's order.
Zones repeat the zone chain (one after another when rolling, side by side when forced); per-server steps
fan out over `<clusterId>.<zone>.server_ids` with parallelIdx 0..n-1, and "Wait node" joins the fan-outs.
"""

from __future__ import annotations

from collections.abc import Sequence

from obcp.engine import Subtask, TemplateBuilder
from obcp.engine.template import Template, WaitNode
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
