"""Live task updates for the console: `GET /api/v2/tasks/instances/{id}/events` (server-sent events).

The stream polls the metadb (the task's `version`, bumped by every subtask transition, and its subtasks'
`updated_at`) rather than listening to this process's engine, so a browser connected to one replica sees
work done by any replica. Each change sends a `task` event with the task in WrappedTaskInstance shape, each
subtask with its last `error`, its `zone` and `serverId` when its step acts on one, and a retried one's
`runs`; and the task's `outcome` (see obcp.api.task_glance). A stream ends after a few
minutes; the browser's EventSource reconnects by itself (and is authenticated again).

The watchers of one task share its encoded event between its changes (bench/fleet: 50 watchers of
running restarts each rendered and encoded 236 subtasks with their contexts on every change).
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from obcp.api.auth import require
from obcp.api.deps import DbDep
from obcp.api.params import IdPath
from obcp.api.task_glance import annotate_subtasks, service_times
from obcp.engine import TaskSignature, TaskState, load_tasks, run_spans, task_signature, wrapped_json
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.meta.db import Database

router = APIRouter(tags=["tasks"])

POLL_SECONDS = 0.5
# A finished task rarely changes again (only by retry or rollback), so it is looked at less often.
IDLE_POLL_SECONDS = 2.0
STREAM_SECONDS = 300.0
RECONNECT_MS = 1000
MAX_TASKS = 256

_events: weakref.WeakKeyDictionary[Database, OrderedDict[int, tuple[TaskSignature, str]]] = (
    weakref.WeakKeyDictionary()
)


async def _signature(db: Database, task_id: int) -> TaskSignature | None:
    async with db.read() as conn:
        return await task_signature(conn, task_id)


async def _payload(db: Database, task_id: int) -> dict[str, Any] | None:
    async with db.read() as conn:
        data = (await load_tasks(conn, [task_id], clusters=inventory.cluster_briefs)).get(task_id)
        if data is None:
            return None
        runs = await run_spans(conn, task_id)
        availability = await inventory.task_availability(conn, task_id)
    body = wrapped_json(data)
    errors = {s.id: s.error for s in data.subtasks}
    for sub in body["subtasks"]:
        error = errors[sub["id"]]
        if error:
            sub["error"] = error
    annotate_subtasks(body, data, runs)
    body["outcome"] = {"availability": availability, "serviceTimes": service_times(data)}
    return body


async def _event_data(db: Database, task_id: int, signature: TaskSignature) -> str | None:
    """The `task` event's data for the task as `signature` shows it, encoded once for every watcher."""
    cache = _events.setdefault(db, OrderedDict())
    hit = cache.get(task_id)
    if hit is not None and hit[0] == signature:
        cache.move_to_end(task_id)
        return hit[1]
    payload = await _payload(db, task_id)
    if payload is None:
        return None
    # As FastAPI encodes an event's `data` (the payload holds only JSON's own types).
    text = json.dumps(payload)
    cache[task_id] = (signature, text)
    cache.move_to_end(task_id)
    while len(cache) > MAX_TASKS:
        cache.popitem(last=False)
    return text


async def _existing_task(db: DbDep, taskInstanceId: IdPath) -> int:
    # A dependency, so an unknown task is a 404 envelope before the stream (and its 200) begins.
    if await _signature(db, taskInstanceId) is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, taskInstanceId)
    return taskInstanceId


@router.get(
    "/api/v2/tasks/instances/{taskInstanceId}/events",
    response_class=EventSourceResponse,
    summary="Live updates of a task (server-sent events; `task` events carry the whole task)",
)
async def task_events(
    db: DbDep,
    _: Principal = Depends(require("TASK:{taskInstanceId}:READ")),
    task_id: int = Depends(_existing_task),
) -> AsyncIterator[ServerSentEvent]:
    seen: TaskSignature | None = None
    ends = time.monotonic() + STREAM_SECONDS
    first = True
    while time.monotonic() < ends:
        signature = await _signature(db, task_id)
        if signature is None:  # deleted while watched
            yield ServerSentEvent(event="gone", data={"id": task_id})
            return
        if signature != seen:
            data = await _event_data(db, task_id, signature)
            if data is not None:
                seen = signature
                retry = RECONNECT_MS if first else None
                yield ServerSentEvent(event="task", raw_data=data, id=str(signature.version), retry=retry)
                first = False
        running = signature.state == TaskState.RUNNING
        await asyncio.sleep(POLL_SECONDS if running else IDLE_POLL_SECONDS)
