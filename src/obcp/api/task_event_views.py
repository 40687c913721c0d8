"""The console's live view of a task (the `task` event of `GET …/events`), kept between the task's changes
and shared by all its watchers.

The event is the task's WrappedTaskInstance with each subtask's extras (obcp.api.task_glance) and the task's
outcome. Each subtask's part is kept encoded, with the START_SERVICE_TIMEs its output context recorded,
until its row changes (`version`, `updated_at`): a change of a running restart reads again, and encodes,
only the subtasks it changed, their rows and contexts (~2.4 KB each). bench/fleet measured the stream at
43 % of the server's CPU when 50 watchers of 3 x 10 restarts read and encoded all 236 on every change.
A retried subtask (its runs' times move while it runs) is encoded again every time.
"""

from __future__ import annotations

import json
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from obcp.api.keyed_locks import KeyedLocks
from obcp.api.task_glance import (
    ServiceTimes,
    fold_service_times,
    recorded_service_times,
    refold_service_times,
    service_time_list,
    subtask_extras,
    task_context_of,
)
from obcp.engine import (
    Context,
    KnownTask,
    TaskSignature,
    reload_task,
    run_spans,
    subtask_contexts,
    subtask_json,
    wrapped_json,
)
from obcp.meta import inventory
from obcp.meta.db import Database

MAX_TASKS = 256
# The cluster's name in an event may be this much older than the cluster (it is read again after that).
CLUSTER_MAX_AGE_SECONDS = 5.0


@dataclass
class _Part:
    text: str
    service_times: ServiceTimes
    context_key: tuple[Any, ...]


def _context_key(row: Any) -> tuple[Any, ...]:
    """Moves whenever the subtask's output context may have: the engine writes a context only when a run ends
    (a new `end_time`, or with the same one a new run, operation or error) or when a subtask is skipped
    (which ends it and clears its error). A claim or a promotion leaves it: their changes read no context."""
    return (row.end_time, row.run_time, row.operation, row.error)


@dataclass
class _Entry:
    signature: TaskSignature
    text: str
    known: KnownTask
    task_context: Context
    folded: ServiceTimes  # every step's record of START_SERVICE_TIMEs, folded (`fold_service_times`)
    service_times: list[dict[str, Any]]
    retried: bool  # a subtask has run more than once (`run_time` never goes down)
    parts: dict[int, _Part] = field(default_factory=dict)


_caches: weakref.WeakKeyDictionary[Database, OrderedDict[int, _Entry]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Database, KeyedLocks] = weakref.WeakKeyDictionary()

# json.dumps writes a key as `"subtasks": ` and escapes every quote inside a string, so these bytes are the
# task's own `subtasks` key: no other object of the view has one.
_NO_SUBTASKS = '"subtasks": []'


async def task_event_data(db: Database, task_id: int, signature: TaskSignature) -> str | None:
    """The `task` event's data (JSON, as FastAPI encodes an event's `data`) for the task at `signature` or
    later; None when the task is gone."""
    cache = _caches.setdefault(db, OrderedDict())
    hit = cache.get(task_id)
    if hit is not None and hit.signature == signature:
        cache.move_to_end(task_id)
        return hit.text
    async with _locks.setdefault(db, KeyedLocks()).hold(task_id):
        hit = cache.get(task_id)  # rendered meanwhile by another watcher of the task?
        if hit is not None and hit.signature == signature:
            cache.move_to_end(task_id)
            return hit.text
        return await _render(db, cache, hit, task_id, signature)


async def _render(
    db: Database, cache: OrderedDict[int, _Entry], hit: _Entry | None, task_id: int, signature: TaskSignature
) -> str | None:
    parts = hit.parts if hit is not None else {}
    async with db.read() as conn:
        known = hit.known if hit is not None else None
        reloaded = await reload_task(
            conn, task_id, inventory.cluster_briefs, known, cluster_max_age=CLUSTER_MAX_AGE_SECONDS
        )
        if reloaded is None:  # deleted since its signature was read
            return None
        rows = reloaded.known.rows
        keys = reloaded.known.keys
        whole = hit is None or reloaded.changed is None
        changed = reloaded.changed or frozenset()
        # Only a subtask that ran more than once has runs to show: most tasks have none to read.
        changed_rows = rows.values() if whole else (rows[sid] for sid in changed)
        retried = (hit is not None and hit.retried) or any(s.run_time > 1 for s in changed_rows)
        runs = await run_spans(conn, task_id) if retried else {}
        # Read whole: all. Else the rows read again and a retried subtask's (its runs' times move as it runs).
        stale = list(keys) if whole else list(changed | (runs.keys() & keys.keys()))
        unread = [
            sid
            for sid in stale
            if (part := parts.get(sid)) is None or part.context_key != _context_key(rows[sid])
        ]
        contexts = await subtask_contexts(conn, unread) if unread else {}
        availability = await inventory.task_availability(conn, task_id)
    data = reloaded.data
    # A task's context is written with it and never changes.
    task_context = hit.task_context if hit is not None else task_context_of(data.task.context)
    changes: list[tuple[ServiceTimes, ServiceTimes]] = []
    read = set(unread)
    for sid in stale:
        s = rows[sid]
        sub = subtask_json(s, data) | subtask_extras(s, task_context, data.task.cluster_id, runs.get(sid))
        before = parts.get(sid)
        if before is None or sid in read:
            times = recorded_service_times(contexts.get(sid))
            changes.append((before.service_times if before is not None else {}, times))
        else:
            times = before.service_times
        parts[sid] = _Part(json.dumps(sub), times, _context_key(s))
    folded = refold_service_times(hit.folded, changes) if hit is not None else None
    if folded is None or len(parts) != len(keys):  # (a subtask gone: folded anew without its record)
        folded = fold_service_times(parts[sid].service_times for sid in keys)
    times_now = hit.service_times if hit is not None and folded is hit.folded else service_time_list(folded)
    body = wrapped_json(data, subtasks=False)
    body["outcome"] = {"availability": availability, "serviceTimes": times_now}
    head = json.dumps(body)
    text = head.replace(_NO_SUBTASKS, '"subtasks": [' + ", ".join(parts[sid].text for sid in keys) + "]")
    cache[task_id] = _Entry(signature, text, reloaded.known, task_context, folded, times_now, retried, parts)
    cache.move_to_end(task_id)
    while len(cache) > MAX_TASKS:
        cache.popitem(last=False)
    return text
