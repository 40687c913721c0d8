"""A task's DAG in a terminal: a table of its subtasks, and one line per change when not on a terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from obcp.cli.subjects import Subjects

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


def seconds(start: str | None, finish: str | None, now: datetime | None = None) -> str:
    """How long a subtask took, or has been running until `now` (the clock's time if not given)."""
    if not start:
        return ""
    try:
        t0 = datetime.fromisoformat(start)
        t1 = datetime.fromisoformat(finish) if finish else (now or datetime.now(t0.tzinfo))
    except ValueError:
        return ""
    return f"{(t1 - t0).total_seconds():.1f}s"


def label(s: dict[str, Any], subjects: Subjects | None = None) -> str:
    """The step's name with its server, or `[n]` for a parallel instance whose server is not known."""
    return (subjects or Subjects()).label(s)


def line_label(s: dict[str, Any], subjects: Subjects) -> str:
    """`Stop observer process 127.0.0.2:2882 (zone1)`, `Prepare restart OB zone (zone1)`, `Prepare`."""
    zone = subjects.zone(s["id"])
    return f"{subjects.label(s)} ({zone})" if zone else subjects.label(s)


def state_text(status: str) -> Text:
    mark, style = STYLE.get(status, ("?", ""))
    return Text(f"{mark} {status}", style=style)


def table(task: dict[str, Any], subjects: Subjects | None = None) -> Table:
    """Every subtask in order, each with the zone and server it acts on when they are known."""
    subjects = subjects or Subjects()
    status = str(task.get("status", "?"))
    t = Table(
        title=f"task {task['id']} {task.get('name', '')} — {status} ({task.get('operation', 'EXECUTE')})"
    )
    columns = ("id", "subtask", "zone", "server", "state", "runs", "time")
    for col in columns if subjects.zones else ("id", "subtask", "state", "runs", "time"):
        t.add_column(col)
    for s in ordered(task.get("subtasks") or []):
        server = subjects.server(s["id"])
        where = [subjects.zone(s["id"]) or "", server.address if server else ""] if subjects.zones else []
        t.add_row(
            str(s["id"]),
            str(s["name"]) if server else label(s),
            *where,
            state_text(s["status"]),
            str(s.get("runTime", "")),
            seconds(s.get("startTime"), s.get("finishTime")),
        )
    return t


def changes(previous: dict[int, str], task: dict[str, Any], subjects: Subjects | None = None) -> list[str]:
    """Lines for every subtask whose state changed since `previous` (which is updated)."""
    subjects = subjects or Subjects()
    lines = []
    for s in ordered(task.get("subtasks") or []):
        if previous.get(s["id"]) != s["status"]:
            previous[s["id"]] = s["status"]
            lines.append(f"subtask {s['id']} {line_label(s, subjects)}: {s['status']}")
    key = -int(task["id"])
    if previous.get(key) != task.get("status"):
        previous[key] = str(task.get("status"))
        lines.append(f"task {task['id']} {task.get('name', '')}: {task.get('status')}")
    return lines
