"""Task views (OCP's WrappedTaskInstance) kept by the task's change signature, so that many followers of
one task — pollers, `obcp task watch`, console pages — share one rendering between its changes.

bench/fleet measured a GET of a running 3 x 10 restart (236 subtasks) at ~20 ms of the server's CPU;
the signature (one row and one aggregate) is a small part of that. Every transition bumps the signature,
so a view is never older than the task; the cluster's name in it may be, for `MAX_AGE_SECONDS` at most.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from typing import Any

from obcp.engine import TaskSignature, load_task, task_signature, wrapped_json
from obcp.errors import ErrorCode, ObcpError
from obcp.meta import inventory
from obcp.meta.db import Database

MAX_AGE_SECONDS = 5.0
MAX_TASKS = 512

_Entry = tuple[TaskSignature, float, dict[str, Any]]
_caches: weakref.WeakKeyDictionary[Database, OrderedDict[int, _Entry]] = weakref.WeakKeyDictionary()


async def task_view(db: Database, task_id: int) -> dict[str, Any]:
    """The task's WrappedTaskInstance, rendered again only when the task changed; 404 if there is none."""
    cache = _caches.setdefault(db, OrderedDict())
    async with db.read() as conn:
        signature = await task_signature(conn, task_id)
        if signature is None:
            raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
        hit = cache.get(task_id)
        now = time.monotonic()
        if hit is not None and hit[0] == signature and now - hit[1] < MAX_AGE_SECONDS:
            cache.move_to_end(task_id)
            return hit[2]
        view = wrapped_json(await load_task(conn, task_id, inventory.cluster_briefs))
    cache[task_id] = (signature, now, view)
    cache.move_to_end(task_id)
    while len(cache) > MAX_TASKS:
        cache.popitem(last=False)
    return view
