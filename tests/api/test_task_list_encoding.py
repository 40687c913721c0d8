"""The task list page's own encoder writes the very bytes the envelope's `dumps` writes for `basic_json`
items: names with quotes, escapes, non-ASCII and lone surrogates, null operations, ids past JavaScript's
safe integers, tasks without subtasks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from obcp.api.envelope import MAX_SAFE_JS_INT, Page, dumps
from obcp.api.task_list_views import encoded_page
from obcp.engine import TaskData, basic_json

TASK = {
    "id": 7,
    "name": "Restart cluster",
    "creator": "admin",
    "creator_id": 1,
    "start_time": 1_796_000_000_000,
    "end_time": None,
    "state": "RUNNING",
}


def _data(subtasks: list[dict[str, Any]], **task: Any) -> TaskData:
    rows = [SimpleNamespace(**s) for s in subtasks]
    cluster = {"id": 3, "name": "c\u00e9"}
    return TaskData(SimpleNamespace(**{**TASK, **task}), rows, {}, {}, cluster)


def _plain(tasks: list[TaskData], page: Page) -> bytes:
    return dumps({"contents": [basic_json(t) for t in tasks], "page": page.as_json()})


def test_a_page_of_restarts_is_encoded_as_dumps_would() -> None:
    subtasks = [
        {"id": 100 + i, "name": name, "operation": "EXECUTE", "state": state}
        for i, (name, state) in enumerate(
            [("Stop observer", "SUCCESSFUL"), ('Say "hi"\\ \n\t', "RUNNING"), ("启动 observer", "PENDING")]
        )
    ]
    tasks = [_data(subtasks), _data([], id=8, name="Empty"), _data(subtasks[:1], id=9, end_time=5)]
    page = Page(1, 10, 3)
    assert encoded_page(tasks, page).body == _plain(tasks, page)


def test_shapes_the_template_does_not_cover_fall_back_to_dumps() -> None:
    odd = [
        {"id": 1, "name": "x", "operation": None, "state": "READY"},
        {"id": MAX_SAFE_JS_INT + 1, "name": "big", "operation": "EXECUTE", "state": "READY"},
        {"id": 2, "name": "lone \ud800 surrogate", "operation": "EXECUTE", "state": "READY"},
    ]
    tasks = [_data(odd), _data([], id=8, name=None)]
    page = Page(2, 2, 4)
    assert encoded_page(tasks, page).body == _plain(tasks, page)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(2**60), max_value=2**60),
            st.one_of(st.none(), st.text(max_size=12)),
            st.one_of(st.none(), st.sampled_from(["EXECUTE", "RETRY", "ROLLBACK"])),
            st.sampled_from(["PENDING", "READY", "RUNNING", "FAILED", "SUCCESSFUL"]),
        ),
        max_size=8,
    ),
    st.text(max_size=10),
)
def test_any_subtasks_are_encoded_as_dumps_would(rows: list[Any], task_name: str) -> None:
    subtasks = [{"id": i, "name": n, "operation": o, "state": s} for i, n, o, s in rows]
    tasks = [_data(subtasks, name=task_name)]
    page = Page(1, 20, 1)
    assert encoded_page(tasks, page).body == _plain(tasks, page)
