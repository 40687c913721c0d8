"""Task views (OCP's WrappedTaskInstance) kept by the task's change signature, so that many followers of
one task — pollers, `obcp task watch`, console pages — share one rendering between its changes.

bench/fleet measured a GET of a running 3 x 10 restart (236 subtasks) at ~20 ms of the server's CPU;
the signature is a small part of that: the task's row, read by its key, which a rendering then uses. Every
change of the task's subtasks bumps the signature, so a view is never older than the task; the cluster's
name in it may be, for `MAX_AGE_SECONDS` at most.

A view is kept encoded, and so is each of its subtasks: sent again, a view costs neither cleaning nor JSON
encoding, and rendered again after a change it encodes only the subtasks that changed (a running restart
changes a few of its 236 at a time), and reads again only those subtasks' rows (`reload_task`).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from obcp.api.envelope import EncodedData, dumps
from obcp.api.keyed_locks import KeyedLocks
from obcp.engine import (
    KnownTask,
    ReloadedTask,
    TaskSignature,
    reload_task,
    signature_of,
    subtask_json,
    task_row,
    wrapped_json,
)
from obcp.errors import ErrorCode, ObcpError
from obcp.meta import inventory
from obcp.meta.db import Database

MAX_AGE_SECONDS = 5.0
MAX_TASKS = 256

# A subtask's row changes `version` on every transition and `updated_at` on every write.
_FragmentKey = tuple[int, int]


@dataclass
class _Entry:
    signature: TaskSignature
    rendered_at: float
    view: EncodedData
    known: KnownTask
    fragments: dict[int, tuple[_FragmentKey, bytes]] = field(default_factory=dict)


_caches: weakref.WeakKeyDictionary[Database, OrderedDict[int, _Entry]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Database, KeyedLocks] = weakref.WeakKeyDictionary()

# Sorted keys make this the only place the bytes `"subtasks":[]` can occur: inside a JSON string a quote
# is escaped.
_NO_SUBTASKS = b'"subtasks":[]'


async def task_view(db: Database, task_id: int) -> EncodedData:
    """The task's WrappedTaskInstance, encoded, rendered again only when the task changed; 404 if there
    is none."""
    cache = _caches.setdefault(db, OrderedDict())
    # Pollers of one task that find its view out of date at once wait for one rendering.
    async with _locks.setdefault(db, KeyedLocks()).hold(task_id):
        return await _view(db, cache, task_id)


async def _view(db: Database, cache: OrderedDict[int, _Entry], task_id: int) -> EncodedData:
    # Most looks find the view current: the task's row alone, in one hand-off to the metadb's driver.
    task = await db.read_whole(lambda conn: task_row(conn, task_id))
    if task is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    signature = signature_of(task)
    hit = cache.get(task_id)
    now = time.monotonic()
    if hit is not None and hit.signature == signature and now - hit.rendered_at < MAX_AGE_SECONDS:
        cache.move_to_end(task_id)
        return hit.view
    async with db.read() as conn:
        known = hit.known if hit is not None else None
        reloaded = await reload_task(
            conn, task_id, inventory.cluster_briefs, known, task=task, cluster_max_age=MAX_AGE_SECONDS
        )
        if reloaded is None:
            raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    fragments = hit.fragments if hit is not None else {}
    entry = _Entry(signature, now, _encode(reloaded, fragments), reloaded.known, fragments)
    cache[task_id] = entry
    cache.move_to_end(task_id)
    while len(cache) > MAX_TASKS:
        cache.popitem(last=False)
    return entry.view


def _encode(reloaded: ReloadedTask, fragments: dict[int, tuple[_FragmentKey, bytes]]) -> EncodedData:
    """`dumps(wrapped_json(data))`, with each subtask's encoding reused while its row is unchanged."""
    data, rows = reloaded.data, reloaded.known.rows
    parts = []
    for sid, key in reloaded.known.keys.items():
        kept = fragments.get(sid)
        if kept is None or kept[0] != key:
            kept = (key, dumps(subtask_json(rows[sid], data)))
            fragments[sid] = kept
        parts.append(kept[1])
    head = dumps(wrapped_json(data, subtasks=False))
    assert head.count(_NO_SUBTASKS) == 1
    return EncodedData(head.replace(_NO_SUBTASKS, b'"subtasks":[' + b",".join(parts) + b"]"))
