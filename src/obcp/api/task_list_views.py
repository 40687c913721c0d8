"""A page of the task list (OCP's BasicTaskInstance items) encoded without a dict per subtask, each item
kept encoded until its task changes.

OCP's list item carries every subtask of its task: a page of 10 running 3 x 10 restarts is 2,360 of them,
and building, cleaning and encoding a dict for each was most of a page's CPU under bench/fleet's pollers.
Each subtask is written here from a template instead; the bytes are the ones `dumps` writes for
`basic_json` (sorted keys, no nulls, no spaces), which the tests compare byte for byte.

An item is kept by its task's signature (obcp.api.task_views_cache keeps the task's view the same way): a
page reads the signatures of its tasks in one statement, and the rows of only those that changed. The
cluster's name in an item may be older than the cluster, by `MAX_AGE_SECONDS` at most.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.api.envelope import MAX_SAFE_JS_INT, EncodedData, Page, dumps
from obcp.api.task_views_cache import MAX_AGE_SECONDS
from obcp.engine import ClusterLookup, TaskData, TaskSignature, basic_json, load_list_items
from obcp.engine import task_signatures as read_signatures
from obcp.meta.db import Database

MAX_ITEMS = 1024

# Sorted keys: "subtasks" is the item's last, so its empty list ends the encoded item.
_EMPTY_TAIL = b'"subtasks":[]}'
_strings: dict[str, bytes] = {}


class _Item(NamedTuple):
    signature: TaskSignature
    rendered_at: float
    encoded: bytes


_caches: weakref.WeakKeyDictionary[Database, OrderedDict[int, _Item]] = weakref.WeakKeyDictionary()


async def page_items(
    db: Database, conn: AsyncConnection, ids: list[int], clusters: ClusterLookup
) -> list[bytes]:
    """The encoded items of these tasks, in their order (a task deleted meanwhile is left out)."""
    cache = _caches.setdefault(db, OrderedDict())
    signatures = await read_signatures(conn, ids)
    now = time.monotonic()
    found: dict[int, bytes] = {}
    for task_id, signature in signatures.items():
        hit = cache.get(task_id)
        if hit is not None and hit.signature == signature and now - hit.rendered_at < MAX_AGE_SECONDS:
            cache.move_to_end(task_id)
            found[task_id] = hit.encoded
    changed = [i for i in signatures if i not in found]
    if changed:
        # Read after its signature, an item is never older than the signature it is kept under.
        loaded = await load_list_items(conn, changed, clusters)
        for task_id, data in loaded.items():
            found[task_id] = _item(data)
            cache[task_id] = _Item(signatures[task_id], now, found[task_id])
            cache.move_to_end(task_id)
        while len(cache) > MAX_ITEMS:
            cache.popitem(last=False)
    return [found[i] for i in ids if i in found]


def encoded_page(tasks: list[TaskData], page: Page) -> EncodedData:
    """`{"contents": [items], "page": {...}}`, as `paged` would encode it."""
    return encoded_items_page([_item(t) for t in tasks], page)


def encoded_items_page(items: list[bytes], page: Page) -> EncodedData:
    """The page of these encoded items."""
    return EncodedData(b'{"contents":[' + b",".join(items) + b'],"page":' + dumps(page.as_json()) + b"}")


def _item(data: TaskData) -> bytes:
    head = dumps(basic_json(data, subtasks=False))
    parts = [_subtask(s) for s in data.subtasks]
    if not head.endswith(_EMPTY_TAIL) or any(p is None for p in parts):
        return dumps(basic_json(data))  # a shape the template does not cover: encoded the plain way
    body = b",".join(p for p in parts if p is not None)
    return head[: -len(b"[]}")] + b"[" + body + b"]}"


def _subtask(s: Any) -> bytes | None:
    if s.name is None or s.operation is None or s.state is None or abs(s.id) > MAX_SAFE_JS_INT:
        return None  # clean() leaves nulls out and writes big ids as strings
    name = _string(s.name)
    return b'{"description":%b,"id":%d,"name":%b,"operation":%b,"status":%b}' % (
        name,
        s.id,
        name,
        _string(s.operation),
        _string(s.state),
    )


def _string(text: str) -> bytes:
    """A string as `dumps` encodes it; subtask names, operations and states are few, so kept."""
    encoded = _strings.get(text)
    if encoded is None:
        if len(_strings) > 4096:
            _strings.clear()
        encoded = _strings[text] = dumps(text)
    return encoded
