"""What each subtask of a task acts on: its zone, and for a per-server step its server (`127.0.0.2:2882`).

The task answer (OCP's WrappedTaskInstance) names neither, and stays as OCP has it. So the CLI reads them,
once per task, from what the server already says elsewhere:

- each step's zone from the first event of the task's event stream, which adds the zone of the step's
  template parameters; a step built without one ("Wait node") takes the zone of its upstreams when they
  agree;
- each zone's server ids, in the order `parallelIdx` counts them, from the task's context as the log of its
  first run subtask records it (`Run subtask, id=…, context=Context(…, listMap={1.zone1.server_ids=[1, 2]…`);
  before any subtask has run, from the cluster's servers in id order, the order the task was planned in;
- each server's address from the cluster's servers (`GET /api/v2/ob/clusters/{id}/servers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from obcp.cli.client import ApiClient, ApiError

BASE = "/api/v2/tasks/instances"
_SERVER_IDS = re.compile(r"[{,]\s*\d+\.([^=\[\]{},\s]+)\.server_ids=\[([0-9, ]*)\]")
NOT_RUN = ("PENDING", "READY")
WAIT_NODE = "Wait node"


@dataclass(frozen=True)
class Server:
    id: int
    zone: str
    address: str  # ip:port, as OCP names an observer


@dataclass
class Subjects:
    """The zone and server of each subtask id; empty when nothing could be learned (a flat view then)."""

    zones: dict[int, str] = field(default_factory=dict)
    servers: dict[int, Server] = field(default_factory=dict)
    # Zone names in the order the task goes through them.
    zone_order: list[str] = field(default_factory=list)

    def zone(self, sid: int) -> str | None:
        return self.zones.get(sid)

    def server(self, sid: int) -> Server | None:
        return self.servers.get(sid)

    def label(self, s: dict[str, Any]) -> str:
        """`Stop observer process 127.0.0.2:2882`; `[n]` for a parallel instance whose server is unknown."""
        server = self.servers.get(s["id"])
        if server is not None:
            return f"{s['name']} {server.address}"
        idx = s.get("parallelIdx", -1)
        return f"{s['name']} [{idx}]" if idx is not None and idx >= 0 else str(s["name"])

    def where(self, sid: int) -> str:
        """`127.0.0.2:2882 zone1`, `zone1` or '' — what a plain line adds after the step's name."""
        server, zone = self.servers.get(sid), self.zones.get(sid)
        if server is not None:
            return f"{server.address} {server.zone}"
        return zone or ""


def load(client: ApiClient, task: dict[str, Any]) -> Subjects:
    """Learns the subjects of `task` (an answer of GET /api/v2/tasks/instances/{id}); never fails on it."""
    subtasks: list[dict[str, Any]] = task.get("subtasks") or []
    event = client.first_event(f"{BASE}/{task['id']}/events", "task") or {}
    zones = {int(s["id"]): str(s["zone"]) for s in event.get("subtasks") or [] if s.get("zone")}
    if not zones:
        return Subjects()
    _inherit_zones(zones, subtasks)
    order = list(dict.fromkeys(zones[int(s["id"])] for s in subtasks if int(s["id"]) in zones))
    result = Subjects(zones, {}, order)
    cluster = task.get("cluster") or {}
    if not cluster.get("id"):
        return result
    try:
        listed = client.call("GET", f"/api/v2/ob/clusters/{cluster['id']}/servers")["contents"]
    except ApiError:
        return result
    known = {int(v["id"]): Server(int(v["id"]), str(v["zoneName"]), f"{v['ip']}:{v['port']}") for v in listed}
    ids = _planned_ids(client, task) or {
        z: [sid for sid, sv in sorted(known.items()) if sv.zone == z] for z in order
    }
    for s in subtasks:
        sid = int(s["id"])
        zone_ids = ids.get(zones.get(sid, ""), [])
        idx = s.get("parallelIdx", -1)
        if idx is not None and 0 <= idx < len(zone_ids):
            picked = known.get(zone_ids[idx])
        else:
            # A server operation's steps: the task's only server of that zone.
            picked = known.get(zone_ids[0]) if len(zone_ids) == 1 and _is_server_task(task) else None
        if picked is not None:
            result.servers[sid] = picked
    return result


def _is_server_task(task: dict[str, Any]) -> bool:
    return str(task.get("name", "")).endswith("OB server")


def _inherit_zones(zones: dict[int, str], subtasks: list[dict[str, Any]]) -> None:
    by_id = {int(s["id"]): s for s in subtasks}
    for s in sorted(subtasks, key=lambda s: int(s["id"])):
        sid = int(s["id"])
        if sid in zones or s.get("name") != WAIT_NODE:
            continue
        ups = {zones.get(int(u)) for u in s.get("upstreams") or [] if int(u) in by_id}
        if len(ups) == 1 and None not in ups:
            zones[sid] = str(ups.pop())


def _planned_ids(client: ApiClient, task: dict[str, Any]) -> dict[str, list[int]]:
    """Each zone's server ids as the task's context lists them, from the log of its first run subtask."""
    ran = [s for s in task.get("subtasks") or [] if s.get("status") not in NOT_RUN]
    if not ran:
        return {}
    first = min(ran, key=lambda s: int(s["id"]))
    try:
        log = client.call("GET", f"{BASE}/{task['id']}/subtasks/{first['id']}/log") or {}
    except ApiError:
        return {}
    found: dict[str, list[int]] = {}
    for zone, ids in _SERVER_IDS.findall(str(log.get("log", ""))):
        found.setdefault(zone, [int(i) for i in ids.split(",") if i.strip()])
    return found
