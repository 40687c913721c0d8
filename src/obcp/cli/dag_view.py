"""A task's DAG in a terminal: a live table when the output is a terminal, one line per change otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

# State words stay visible next to the colour: the colour alone must never carry the meaning.
STYLE = {
    "PENDING": ("·", "dim"),
    "READY": ("○", "cyan"),
    "RUNNING": ("▶", "bold yellow"),
    "CANCELING": ("■", "magenta"),
    "FAILED": ("✗", "bold red"),
    "SUCCESSFUL": ("✓", "green"),
}
FINAL_TASK_STATES = ("SUCCESSFUL", "FAILED")


def ordered(subtasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Subtasks in topological order: by depth (longest path from a root), then id."""
    by_id = {s["id"]: s for s in subtasks}
    depth: dict[int, int] = {}

    def depth_of(sid: int, seen: frozenset[int] = frozenset()) -> int:
        if sid in depth:
            return depth[sid]
        ups = [u for u in by_id[sid].get("upstreams") or [] if u in by_id and u not in seen]
        d = 0 if not ups else 1 + max(depth_of(u, seen | {sid}) for u in ups)
        depth[sid] = d
        return d

    return sorted(subtasks, key=lambda s: (depth_of(s["id"]), s["id"]))


def _seconds(start: str | None, finish: str | None) -> str:
    if not start:
        return ""
    try:
        t0 = datetime.fromisoformat(start)
        t1 = datetime.fromisoformat(finish) if finish else datetime.now(t0.tzinfo)
    except ValueError:
        return ""
    return f"{(t1 - t0).total_seconds():.1f}s"


def label(s: dict[str, Any]) -> str:
    idx = s.get("parallelIdx", -1)
    return f"{s['name']} [{idx}]" if idx is not None and idx >= 0 else str(s["name"])


def table(task: dict[str, Any]) -> Table:
    status = str(task.get("status", "?"))
    t = Table(
        title=f"task {task['id']} {task.get('name', '')} — {status} ({task.get('operation', 'EXECUTE')})"
    )
    for col in ("", "id", "subtask", "state", "runs", "time"):
        t.add_column(col)
    for s in ordered(task.get("subtasks") or []):
        mark, style = STYLE.get(s["status"], ("?", ""))
        t.add_row(
            Text(mark, style=style),
            str(s["id"]),
            label(s),
            Text(s["status"], style=style),
            str(s.get("runTime", "")),
            _seconds(s.get("startTime"), s.get("finishTime")),
        )
    return t


def changes(previous: dict[int, str], task: dict[str, Any]) -> list[str]:
    """Lines for every subtask whose state changed since `previous` (which is updated)."""
    lines = []
    for s in ordered(task.get("subtasks") or []):
        if previous.get(s["id"]) != s["status"]:
            previous[s["id"]] = s["status"]
            lines.append(f"subtask {s['id']} {label(s)}: {s['status']}")
    key = -int(task["id"])
    if previous.get(key) != task.get("status"):
        previous[key] = str(task.get("status"))
        lines.append(f"task {task['id']} {task.get('name', '')}: {task.get('status')}")
    return lines
