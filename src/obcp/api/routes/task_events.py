"""Live task updates for the console: `GET /api/v2/tasks/instances/{id}/events` (server-sent events).

The stream polls the metadb (the task's row: its `version` is bumped by every change of its subtasks)
rather than listening to this process's engine, so a browser connected to one replica sees
work done by any replica. Each change sends a `task` event with the task in WrappedTaskInstance shape, each
subtask with its last `error`, its `zone` and `serverId` when its step acts on one, and a retried one's
`runs`; and the task's `outcome` (see obcp.api.task_glance). A stream ends after a few
minutes; the browser's EventSource reconnects by itself (and is authenticated again).

The event's data is kept and shared by every watcher of the task between its changes
(obcp.api.task_event_views). While the metadb cannot be reached (down, or its pool busy past its timeout)
the stream stays open: it says so once, as a comment naming the error's class, and goes on when the metadb
answers (it ended in an unhandled error before: 372 of them in one bench/fleet round).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from obcp.api.auth import require
from obcp.api.deps import DbDep
from obcp.api.params import IdPath
from obcp.api.task_event_views import task_event_data
from obcp.engine import TaskSignature, TaskState, task_signature
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta.db import Database, metadb_unreachable

log = logging.getLogger("obcp.api")
router = APIRouter(tags=["tasks"])

POLL_SECONDS = 0.5
# A finished task rarely changes again (only by retry or rollback), so it is looked at less often.
IDLE_POLL_SECONDS = 2.0
STREAM_SECONDS = 300.0
RECONNECT_MS = 1000


# The watchers of one task share a look at its signature this young (they poll every POLL_SECONDS).
SHARED_LOOK_SECONDS = 0.2
_looks: weakref.WeakKeyDictionary[Database, dict[int, tuple[float, TaskSignature | None]]] = (
    weakref.WeakKeyDictionary()
)


async def _signature(db: Database, task_id: int, shared: bool = True) -> TaskSignature | None:
    looks = _looks.setdefault(db, {})
    look = looks.get(task_id)
    if shared and look is not None and time.monotonic() - look[0] < SHARED_LOOK_SECONDS:
        return look[1]
    signature = await db.read_whole(lambda conn: task_signature(conn, task_id))
    if len(looks) > 4096:  # only tasks being watched need a look: forget the others now and then
        looks.clear()
    looks[task_id] = (time.monotonic(), signature)
    return signature


async def _existing_task(db: DbDep, taskInstanceId: IdPath) -> int:
    # A dependency, so an unknown task is a 404 envelope before the stream (and its 200) begins.
    if await _signature(db, taskInstanceId, shared=False) is None:
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
    waiting = False  # for the metadb: said once in the stream, as a comment, until it answers again
    while time.monotonic() < ends:
        try:
            signature = await _signature(db, task_id)
            data = None
            if signature is not None and signature != seen:
                data = await task_event_data(db, task_id, signature)
        except Exception as exc:
            if not metadb_unreachable(exc):
                raise
            if not waiting:
                waiting = True
                # Only the class: the exception's text may name the metadb's host and user.
                log.warning("event stream of task %s: metadb unreachable: %s", task_id, type(exc).__name__)
                yield ServerSentEvent(comment=f"metadb unreachable ({type(exc).__name__}): waiting for it")
            await asyncio.sleep(POLL_SECONDS)
            continue
        waiting = False
        if signature is None:  # deleted while watched
            yield ServerSentEvent(event="gone", data={"id": task_id})
            return
        if data is not None:
            seen = signature
            retry = RECONNECT_MS if first else None
            yield ServerSentEvent(event="task", raw_data=data, id=str(signature.version), retry=retry)
            first = False
        running = signature.state == TaskState.RUNNING
        await asyncio.sleep(POLL_SECONDS if running else IDLE_POLL_SECONDS)
