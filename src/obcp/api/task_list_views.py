"""A page of the task list (OCP's BasicTaskInstance items) encoded without a dict per subtask.

OCP's list item carries every subtask of its task: a page of 10 running 3 x 10 restarts is 2,360 of them,
and building, cleaning and encoding a dict for each was most of a page's CPU under bench/fleet's pollers.
Each subtask is written here from a template instead; the bytes are the ones `dumps` writes for
`basic_json` (sorted keys, no nulls, no spaces), which the tests compare byte for byte.
"""

from __future__ import annotations

from typing import Any

from obcp.api.envelope import MAX_SAFE_JS_INT, EncodedData, Page, dumps
from obcp.engine import TaskData, basic_json

# Sorted keys: "subtasks" is the item's last, so its empty list ends the encoded item.
_EMPTY_TAIL = b'"subtasks":[]}'
_strings: dict[str, bytes] = {}


def encoded_page(tasks: list[TaskData], page: Page) -> EncodedData:
    """`{"contents": [items], "page": {...}}`, as `paged` would encode it."""
    items = b",".join(_item(t) for t in tasks)
    return EncodedData(b'{"contents":[' + items + b'],"page":' + dumps(page.as_json()) + b"}")


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
