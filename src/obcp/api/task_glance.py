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
from collections.abc import Iterable
from typing import Any

from obcp.engine import Context, RunSpan
from obcp.operations import keys
from obcp.timefmt import iso_ms

# A step's record in its output context as JSON text (`Context.to_json`): a stringMap entry
# "server.<id>.start_service_time_<before|after>": "<µs>". A quote inside a JSON string is escaped, and an
# entry's key opens after `{` or `,` (checked apart: a pattern that opens with a literal is searched for
# fast): so these bytes are such an entry's own and nothing else's (a listMap entry's value is a list).
_RECORDED = re.compile(r'"server\.([0-9]+)\.start_service_time_(before|after)"\s*:\s*"([0-9]+)"(?=\s*[,}])')
_OPENS_KEY = frozenset("{, \t\n\r")


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
    # Found in the text, not by parsing it: each change of a running restart reads tens of contexts of a few
    # KB each, and parsing them was 12 % of the console's event stream (bench/fleet).
    found: ServiceTimes = {}
    text = context or ""
    for m in _RECORDED.finditer(text):
        if m.start() > 0 and text[m.start() - 1] in _OPENS_KEY:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = int(m.group(3))
    return found


def fold_service_times(recorded: Iterable[ServiceTimes]) -> ServiceTimes:
    """Each server's START_SERVICE_TIMEs before the task and after its restart, from what its steps recorded
    in the contexts they passed on, in the task's order (a later step's record of a server wins)."""
    found: ServiceTimes = {}
    for one in recorded:
        for sid, times in one.items():
            if times:
                found.setdefault(sid, {}).update(times)
    return found


def refold_service_times(
    folded: ServiceTimes, changes: Iterable[tuple[ServiceTimes, ServiceTimes]]
) -> ServiceTimes | None:
    """`folded` (`fold_service_times` of every step's record) after some steps' records changed from old
    to new, without folding them all again; None when only that tells.

    A step's context carries every time recorded before it, so a running restart's steps record the same
    times again and again (236 steps, up to 30 servers each): a record that keeps its old times and agrees
    with the fold leaves it as it is, wherever the step is in the order, and a time no step recorded
    before is added. A record that drops or changes a time, or disagrees with the fold, needs the whole
    fold (a retried step recording a new time)."""
    result: ServiceTimes | None = None
    for old, new in changes:
        if old == new:
            continue
        for sid, times in old.items():
            now = new.get(sid)
            if now is None or any(now.get(key) != value for key, value in times.items()):
                return None
        for sid, times in new.items():
            for key, value in times.items():
                have = (result if result is not None else folded).get(sid, {}).get(key)
                if have is None:
                    if result is None:
                        result = {s: dict(t) for s, t in folded.items()}
                    result.setdefault(sid, {})[key] = value
                elif have != value:
                    return None
    return folded if result is None else result


def service_time_list(folded: ServiceTimes) -> list[dict[str, Any]]:
    """The event's `serviceTimes`: one object per server, by server id."""
    return [{"serverId": sid, **folded[sid]} for sid in sorted(folded)]
