"""A rolling "Restart OB cluster" as GET /api/v2/tasks/instances/{id} answers it, with the zone chain of
obcp's template (per-server steps fanned out with parallelIdx, "Wait node" joins), for the CLI's views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

# (name, fans out over the zone's servers, joined by a Wait node)
ZONE_CHAIN = (
    ("Prepare restart OB zone", False, False),
    ("Prepare restart observer", True, True),
    ("Stop observer process", True, True),
    ("Start observer process", True, False),
    ("Wait observer accessible", True, False),
    ("Start ocp agent service", True, True),
    ("Start server", True, True),
    ("Update restart observer status", True, False),
    ("Start zone", False, False),
    ("Update restart zone status", False, False),
)


@dataclass
class RestartTask:
    zones: list[str]
    per_zone: int
    subtasks: list[dict[str, Any]] = field(default_factory=list)
    zone_of: dict[int, str] = field(default_factory=dict)

    def add(self, name: str, after: list[int], zone: str | None = None, idx: int = -1) -> int:
        sid = len(self.subtasks) + 1
        self.subtasks.append(
            {
                "id": sid,
                "name": name,
                "status": "PENDING",
                "upstreams": after,
                "parallelIdx": idx,
                "runTime": 0,
            }
        )
        if zone is not None:
            self.zone_of[sid] = zone
        return sid

    def json(self, status: str = "RUNNING") -> dict[str, Any]:
        return {
            "id": 7,
            "name": "Restart OB cluster",
            "status": status,
            "startTime": T0.isoformat(),
            "cluster": {"id": 1, "name": "c1"},
            "subtasks": [dict(s) for s in self.subtasks],
        }

    def run_until(self, count: int, seconds_each: float = 0.5) -> None:
        """The first `count` subtasks finished one after another, the next one running."""
        for i, s in enumerate(self.subtasks):
            start = T0 + timedelta(seconds=i * seconds_each)
            if i < count:
                s.update(status="SUCCESSFUL", runTime=1, startTime=start.isoformat())
                s["finishTime"] = (start + timedelta(seconds=seconds_each)).isoformat()
            elif i == count:
                s.update(status="RUNNING", runTime=1, startTime=start.isoformat())


def restart_task(zones: int, per_zone: int) -> RestartTask:
    task = RestartTask([f"zone{z + 1}" for z in range(zones)], per_zone)
    tail = [task.add("Set zone context", [task.add("Prepare restart cluster", [])])]
    for zone in task.zones:
        for name, fans, joined in ZONE_CHAIN:
            if not fans:
                tail = [task.add(name, tail, zone)]
                continue
            tail = [task.add(name, tail, zone, i) for i in range(per_zone)]
            if joined:
                tail = [task.add("Wait node", tail)]
    tail = [task.add("Sync cluster info", tail)]
    task.add("Update OB cluster status", [task.add("Sync all tenant info", tail)])
    return task


def server_id(zone: int, idx: int, per_zone: int) -> int:
    return 11 + zone * per_zone + idx


def servers_json(task: RestartTask) -> dict[str, Any]:
    contents = []
    for z, zone in enumerate(task.zones):
        for i in range(task.per_zone):
            sid = server_id(z, i, task.per_zone)
            contents.append(
                {"id": sid, "zoneName": zone, "ip": f"127.0.0.{sid}", "port": 2882, "status": "RUNNING"}
            )
    return {"contents": contents}


def context_log(task: RestartTask) -> str:
    """The first line of a run's log, with the task's context as OCP's toString() prints it."""
    lists = []
    for z, zone in enumerate(task.zones):
        ids = ", ".join(str(server_id(z, i, task.per_zone)) for i in range(task.per_zone))
        lists.append(f"1.{zone}.server_ids=[{ids}]")
    lists.append(f"zone_names=[{', '.join(task.zones)}]")
    return (
        "############{EXECUTE}{2025-01-01T12:00:00.000+00:00}############\n"
        "2025-01-01 12:00:00.001  INFO 1 --- [subtask-1] obcp.task.X : Run subtask, id=1, "
        f"context=Context(parallelIdx=-1, stringMap={{cluster_id=1}}, listMap={{{', '.join(lists)}}})"
    )


def event_json(task: RestartTask) -> dict[str, Any]:
    """The first `task` event of the task's stream: the task, each step with its template's zone."""
    body = task.json()
    for s in body["subtasks"]:
        if s["id"] in task.zone_of:
            s["zone"] = task.zone_of[s["id"]]
    return body
