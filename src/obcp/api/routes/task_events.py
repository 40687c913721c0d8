"""Live task updates for the console: `GET /api/v2/tasks/instances/{id}/events` (server-sent events).

The stream polls the metadb (the task's `version`, bumped by every subtask transition, and its subtasks'
`updated_at`) rather than listening to this process's engine, so a browser connected to one replica sees
work done by any replica. Each change sends a `task` event with the task in WrappedTaskInstance shape, each
subtask with its last `error` (and its `zone`, when its step was built for one). A stream ends after a few
minutes; the browser's EventSource reconnects by itself (and is authenticated again).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from obcp.api.auth import require
from obcp.api.deps import DbDep
from obcp.api.params import IdPath
from obcp.engine import TaskSignature, TaskState, load_tasks, task_signature, wrapped_json
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


async def _signature(db: Database, task_id: int) -> TaskSignature | None:
    async with db.read() as conn:
        return await task_signature(conn, task_id)


async def _payload(db: Database, task_id: int) -> dict[str, Any] | None:
    async with db.read() as conn:
        data = (await load_tasks(conn, [task_id], clusters=inventory.cluster_briefs)).get(task_id)
    if data is None:
        return None
    body = wrapped_json(data)
    rows = {s.id: s._mapping for s in data.subtasks}
    for sub in body["subtasks"]:
        row = rows[sub["id"]]
        if row.get("error"):
            sub["error"] = row["error"]
        # Only the zone of a step's template parameters: the console boxes a restart's steps per zone.
        zone = _zone(row.get("params"))
        if zone:
            sub["zone"] = zone
    return body


def _zone(params: str | None) -> str | None:
    try:
        value = json.loads(params).get("zone") if params else None
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


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
            payload = await _payload(db, task_id)
            if payload is not None:
                seen = signature
                retry = RECONNECT_MS if first else None
                yield ServerSentEvent(event="task", data=payload, id=str(signature.version), retry=retry)
                first = False
        running = signature.state == TaskState.RUNNING
        await asyncio.sleep(POLL_SECONDS if running else IDLE_POLL_SECONDS)
