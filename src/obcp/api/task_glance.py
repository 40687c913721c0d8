"""What the console's live view of a task adds to the task's OCP shape (only on obcp's own event stream;
`GET /api/v2/tasks/instances/{id}` answers as OCP does): each subtask's zone and server, the earlier runs of
a retried subtask, and the task's outcome — the availability obcp measured and each restarted server's
START_SERVICE_TIME before and after.

All of it comes from the task's own rows: a step's template parameters (`zone`, `server_id`), the server
lists of the task context a fan-out runs over (`<clusterId>.<zone>.server_ids`, item `parallelIdx`), and the
contexts the steps passed on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from obcp.engine import Context, RunSpan
from obcp.operations import keys
from obcp.timefmt import iso_ms

_SERVICE_TIME = re.compile(r"^server\.(\d+)\.start_service_time_(before|after)$")


def _params(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def task_context_of(raw: str | None) -> Context:
    try:
        return Context.from_json(raw) if raw else Context()
    except (ValueError, KeyError, TypeError):
        return Context()


def _server_id(
    params: dict[str, Any], zone: str | None, idx: int, task: Context, cluster: int | None
) -> int | None:
    own = params.get("server_id")
    if isinstance(own, (str, int)) and str(own).isdigit():
        return int(own)
    if zone is None or idx < 0 or cluster is None:
        return None
    servers = task.list_map.get(keys.server_ids(cluster, zone)) or []
    return int(servers[idx]) if idx < len(servers) and servers[idx].isdigit() else None


def subtask_extras(
    row: Any, task_context: Context, cluster: int | None, runs: list[RunSpan] | None
) -> dict[str, Any]:
    """What the live view adds to a subtask's OCP shape: its last `error`, its `zone` and `serverId` when its
    step acts on one, and a retried subtask's `runs`."""
    extras: dict[str, Any] = {}
    if row.error:
        extras["error"] = row.error
    params = _params(row.params)
    zone = params.get("zone") if isinstance(params.get("zone"), str) else None
    if zone:
        extras["zone"] = zone
    server = _server_id(params, zone, row.parallel_idx, task_context, cluster)
    if server is not None:
        extras["serverId"] = server
    if runs:
        extras["runs"] = [
            {
                "runTime": r.run_time,
                "operation": r.operation,
                "startTime": iso_ms(r.started_ms),
                "lastWrittenTime": iso_ms(r.last_written_ms),
            }
            for r in runs
        ]
    return extras


ServiceTimes = dict[int, dict[str, int]]


def recorded_service_times(context: str | None) -> ServiceTimes:
    """The START_SERVICE_TIMEs (epoch µs) before and after a restart that one step's context carries, by
    server id."""
    found: ServiceTimes = {}
    for key, value in task_context_of(context).string_map.items():
        m = _SERVICE_TIME.match(key)
        if m and value.isdigit():
            found.setdefault(int(m.group(1)), {})[m.group(2)] = int(value)
    return found


def service_times(recorded: list[ServiceTimes]) -> list[dict[str, Any]]:
    """Each server's START_SERVICE_TIME before the task and after its restart, from what its steps recorded
    in the contexts they passed on (a later step's record of a server wins)."""
    found: ServiceTimes = {}
    for one in recorded:
        for sid, times in one.items():
            found.setdefault(sid, {}).update(times)
    return [{"serverId": sid, **found[sid]} for sid in sorted(found)]
