"""The live view of a task on a terminal, grouped by zone and fitted to the terminal's height.

A finished or pending zone is one line with its counts; a zone with work in progress is shown whole, each
subtask with the server it acts on. When even that is taller than the terminal, the fan-outs of the shown
zones fold into one line per step with their states counted. Above the groups: a progress bar, the time
since the task started and an estimate of what is left, from the durations the task's own finished steps
measured (steps of the same name, else any step) along the longest remaining path of the DAG."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from obcp.cli.dag_view import STYLE, ordered, seconds, state_text
from obcp.cli.subjects import Subjects

CLUSTER = "cluster"
NOT_STARTED = ("PENDING", "READY")
# Lines besides the groups' own: title, progress, a blank line, and the table's header and borders.
CHROME = 6
_STATE_ORDER = {
    s: i for i, s in enumerate(("SUCCESSFUL", "FAILED", "CANCELING", "RUNNING", "READY", "PENDING"))
}
# A zone's title names its servers up to this many, and counts them beyond.
NAMED_SERVERS = 4


@dataclass
class ZoneGroup:
    name: str
    subtasks: list[dict[str, Any]]

    def counts(self) -> Counter[str]:
        return Counter(str(s["status"]) for s in self.subtasks)

    @property
    def done(self) -> bool:
        return all(s["status"] == "SUCCESSFUL" for s in self.subtasks)

    @property
    def pending(self) -> bool:
        return all(s["status"] in NOT_STARTED for s in self.subtasks)


def groups(task: dict[str, Any], subjects: Subjects) -> list[ZoneGroup]:
    """The task's subtasks by zone, in the order the task reaches them; steps of no zone are `cluster`
    groups, one before the zones and one after."""
    result: dict[str, ZoneGroup] = {}
    seen_zone = False
    for s in ordered(task.get("subtasks") or []):
        zone = subjects.zone(s["id"])
        seen_zone = seen_zone or zone is not None
        key = zone or (f"{CLUSTER} " if seen_zone else CLUSTER)
        result.setdefault(key, ZoneGroup(key.strip(), [])).subtasks.append(s)
    return list(result.values())


def _parse(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def _took(s: dict[str, Any]) -> float | None:
    t0, t1 = _parse(s.get("startTime")), _parse(s.get("finishTime"))
    return (t1 - t0).total_seconds() if t0 and t1 else None


def remaining_seconds(task: dict[str, Any], now: datetime) -> float | None:
    """What is left along the longest path through the unfinished subtasks; None before any step has
    finished (nothing measured yet) or when a failed step waits for someone."""
    subtasks = ordered(task.get("subtasks") or [])
    measured: dict[str, list[float]] = {}
    for s in subtasks:
        took = _took(s) if s["status"] == "SUCCESSFUL" else None
        if took is not None:
            measured.setdefault(str(s["name"]), []).append(took)
    every = [t for times in measured.values() for t in times]
    if not every or any(s["status"] == "FAILED" for s in subtasks):
        return None
    left: dict[int, float] = {}
    for s in subtasks:
        times = measured.get(str(s["name"]), every)
        guess = sum(times) / len(times)
        own = 0.0
        if s["status"] == "RUNNING":
            started = _parse(s.get("startTime"))
            own = max(0.0, guess - (now - started).total_seconds()) if started else guess
        elif s["status"] != "SUCCESSFUL":
            own = guess
        before = max((left.get(u, 0.0) for u in s.get("upstreams") or []), default=0.0)
        left[s["id"]] = 0.0 if s["status"] == "SUCCESSFUL" else before + own
    return max(left.values(), default=0.0)


def _clock(total: float) -> str:
    minutes, secs = divmod(round(total), 60)
    return f"{minutes}:{secs:02d}"


def _header(task: dict[str, Any], now: datetime) -> Text:
    status = str(task.get("status", "?"))
    mark, style = STYLE.get(status, ("?", ""))
    text = Text(f"task {task['id']} {task.get('name', '')} — ")
    text.append(f"{mark} {status}", style=style)
    started = _parse(task.get("startTime"))
    ended = _parse(task.get("finishTime")) if status in ("SUCCESSFUL", "FAILED") else None
    if started:
        text.append(f" · {_clock(((ended or now) - started).total_seconds())} elapsed")
    left = remaining_seconds(task, now) if status == "RUNNING" else None
    if left is not None:
        text.append(f" · about {_clock(left)} left")
    return text


def _progress(task: dict[str, Any], width: int) -> Table:
    subtasks = task.get("subtasks") or []
    done = sum(1 for s in subtasks if s["status"] == "SUCCESSFUL")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=max(10, min(60, width - 24)))
    grid.add_column()
    grid.add_row(ProgressBar(total=max(1, len(subtasks)), completed=done), f"{done}/{len(subtasks)} subtasks")
    return grid


def _folded(group: ZoneGroup) -> Text:
    counts = group.counts()
    total = len(group.subtasks)
    if group.done:
        return Text(f"✓ {group.name} · {total}/{total} done{_span(group)}", style="green")
    if group.pending:
        return Text(f"· {group.name} · 0/{total} · pending", style="dim")
    text = Text(f"▶ {group.name} · {counts['SUCCESSFUL']}/{total}", style="bold")
    for status in ("RUNNING", "FAILED", "CANCELING"):
        if counts[status]:
            text.append(f" · {counts[status]} {status}", style=STYLE[status][1])
    return text


def _span(group: ZoneGroup) -> str:
    starts = [t for t in (_parse(s.get("startTime")) for s in group.subtasks) if t]
    ends = [t for t in (_parse(s.get("finishTime")) for s in group.subtasks) if t]
    return f" in {(max(ends) - min(starts)).total_seconds():.1f}s" if starts and ends else ""


def _servers_of(group: ZoneGroup, subjects: Subjects) -> str:
    named = [subjects.server(s["id"]) for s in group.subtasks]
    addresses = list(dict.fromkeys(sv.address for sv in named if sv is not None))
    return ", ".join(addresses) if len(addresses) <= NAMED_SERVERS else f"{len(addresses)} servers"


def _rows(group: ZoneGroup, subjects: Subjects, now: datetime, fold_fanouts: bool) -> list[list[Any]]:
    """One row per subtask; with `fold_fanouts`, one per step for the parallel instances of a step."""
    rows: list[list[Any]] = []
    steps: dict[str, list[dict[str, Any]]] = {}
    for s in group.subtasks:
        idx = s.get("parallelIdx", -1)
        key = str(s["name"]) if fold_fanouts and idx is not None and idx >= 0 else f"#{s['id']}"
        steps.setdefault(key, []).append(s)
    for same in steps.values():
        s = same[0]
        if len(same) == 1:
            server = subjects.server(s["id"])
            name = str(s["name"]) if server else subjects.label(s)
            took = seconds(s.get("startTime"), s.get("finishTime"), now)
            rows.append([str(s["id"]), name, server.address if server else "", state_text(s["status"]), took])
            continue
        counts = Counter(str(x["status"]) for x in same)
        states = Text()
        for status, n in sorted(counts.items(), key=lambda kv: _STATE_ORDER.get(kv[0], 9)):
            mark, style = STYLE.get(status, ("?", ""))
            states.append(f"{mark} {n} ", style=style)
        busy = [subjects.server(x["id"]) for x in same if x["status"] in ("RUNNING", "FAILED", "CANCELING")]
        where = ", ".join(sv.address for sv in busy if sv is not None)
        rows.append([f"{s['id']}…", f"{s['name']} × {len(same)}", where, states, ""])
    return rows


def render(
    task: dict[str, Any], subjects: Subjects, *, height: int, width: int, now: datetime
) -> RenderableType:
    """The view of `task`, at most `height` lines tall when that can be done by folding."""
    parts: list[RenderableType] = [_header(task, now), _progress(task, width), Text("")]
    zone_groups = groups(task, subjects)
    open_groups = [g for g in zone_groups if not (g.done or g.pending)]
    room = height - CHROME - (len(zone_groups) - len(open_groups)) - 2 * len(open_groups)
    rows = {g.name: _rows(g, subjects, now, fold_fanouts=False) for g in open_groups}
    if sum(len(r) for r in rows.values()) > room:
        rows = {g.name: _rows(g, subjects, now, fold_fanouts=True) for g in open_groups}
    for g in zone_groups:
        if g.name not in rows:
            parts.append(_folded(g))
            continue
        title = _folded(g)
        servers = _servers_of(g, subjects)
        if servers:
            title.append(f" · {servers}", style="")
        parts.append(title)
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
        for col in ("id", "subtask", "server", "state", "time"):
            table.add_column(col)
        for row in rows[g.name]:
            table.add_row(*row)
        parts.append(table)
    return Group(*parts)
