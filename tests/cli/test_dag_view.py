from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from obcp.cli import dag_view


def _task(statuses: dict[int, str], task_status: str = "RUNNING") -> dict[str, Any]:
    # A diamond: 1 -> (2, 3 parallel) -> 4, listed out of order on purpose.
    edges: dict[int, list[int]] = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    names = {1: "Prepare", 2: "Stop observer process", 3: "Stop observer process", 4: "Wait node"}
    subtasks = [
        {
            "id": i,
            "name": names[i],
            "status": statuses[i],
            "upstreams": edges[i],
            "parallelIdx": (i - 2 if i in (2, 3) else -1),
            "runTime": 1,
        }
        for i in (4, 3, 1, 2)
    ]
    return {"id": 9, "name": "Restart OB cluster", "status": task_status, "subtasks": subtasks}


def test_ordered_puts_upstreams_first() -> None:
    subtasks = _task({1: "SUCCESSFUL", 2: "RUNNING", 3: "RUNNING", 4: "PENDING"})["subtasks"]
    order = [s["id"] for s in dag_view.ordered(subtasks)]
    assert order == [1, 2, 3, 4]


def test_changes_reports_each_transition_once() -> None:
    seen: dict[int, str] = {}
    first = dag_view.changes(seen, _task({1: "RUNNING", 2: "PENDING", 3: "PENDING", 4: "PENDING"}))
    assert first[0] == "subtask 1 Prepare: RUNNING"
    assert "subtask 2 Stop observer process [0]: PENDING" in first
    assert first[-1] == "task 9 Restart OB cluster: RUNNING"
    second = dag_view.changes(seen, _task({1: "SUCCESSFUL", 2: "RUNNING", 3: "PENDING", 4: "PENDING"}))
    assert second == ["subtask 1 Prepare: SUCCESSFUL", "subtask 2 Stop observer process [0]: RUNNING"]
    assert dag_view.changes(seen, _task({1: "SUCCESSFUL", 2: "RUNNING", 3: "PENDING", 4: "PENDING"})) == []


def test_table_shows_state_words_not_only_colour() -> None:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(
        dag_view.table(_task({1: "SUCCESSFUL", 2: "FAILED", 3: "RUNNING", 4: "PENDING"}, "FAILED"))
    )
    text = out.getvalue()
    for word in ("SUCCESSFUL", "FAILED", "RUNNING", "PENDING", "Stop observer process [1]"):
        assert word in text
