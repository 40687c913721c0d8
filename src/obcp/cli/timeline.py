"""`obcp task timeline ID`: where a restart's time went, as text.

One band per zone (its first subtask's start to its last one's end), under it one row per server with its
down window: "Stop observer process" sent → SQL answering again (the end of "Wait observer accessible", or
of the zone's "Wait observer active", else of "Start observer process"). A subtask that ran more than once
shows its earlier runs as separate bars, from its log (each run starts with OCP's `############{EXECUTE}{…}`
header; it ended with the run's last log line). Below: the availability figure the server measured while
the task ran, when the task is its cluster's last operation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from obcp.cli.client import ApiClient, ApiError
from obcp.cli.dag_view import STYLE
from obcp.cli.inventory_view import availability
from obcp.cli.subjects import BASE, Subjects

STOP = "Stop observer process"
ANSWERING = ("Wait observer accessible", "Wait observer active", "Start observer process")
_HEADER = re.compile(r"^#+\{[A-Z]+\}\{([^}]+)\}#+$")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")
LABEL = 36
LEGEND = "━ zone  █ down: stop sent → SQL answering  ░ an earlier run of a retried step"


@dataclass(frozen=True)
class Bar:
    start: datetime
    end: datetime
    label: str
    kind: str  # zone | down | retry

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Timeline:
    start: datetime
    end: datetime
    rows: list[Bar] = field(default_factory=list)


def _time(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def runs_of(log: str) -> list[tuple[datetime, datetime]]:
    """Each run's start (its header) and end (its last time-stamped line) in a subtask's log."""
    runs: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    last: datetime | None = None
    for line in log.splitlines():
        header = _HEADER.match(line)
        if header and (begun := _time(header.group(1))) is not None:
            if start is not None:
                runs.append((start, last or start))
            start, last = begun, begun
            continue
        stamp = _STAMP.match(line)
        if stamp and start is not None:
            at = datetime.fromisoformat(stamp.group(1).replace(" ", "T")).replace(tzinfo=start.tzinfo)
            last = max(last or at, at)
    if start is not None:
        runs.append((start, last or start))
    return runs


def build(client: ApiClient, task: dict[str, Any], subjects: Subjects, now: datetime) -> Timeline:
    subtasks: list[dict[str, Any]] = task.get("subtasks") or []
    begun = _time(task.get("startTime")) or now
    timeline = Timeline(begun, _time(task.get("finishTime")) or now)
    for zone in subjects.zone_order:
        mine = [s for s in subtasks if subjects.zone(s["id"]) == zone]
        starts = [t for t in (_time(s.get("startTime")) for s in mine) if t]
        if not starts:
            continue
        ends = [_time(s.get("finishTime")) or now for s in mine if s.get("startTime")]
        timeline.rows.append(Bar(min(starts), max(ends), zone, "zone"))
        for address in dict.fromkeys(sv.address for s in mine if (sv := subjects.server(s["id"]))):
            timeline.rows.extend(_server_rows(client, task, subjects, mine, address, now))
    return timeline


def _server_rows(
    client: ApiClient,
    task: dict[str, Any],
    subjects: Subjects,
    zone_subtasks: list[dict[str, Any]],
    address: str,
    now: datetime,
) -> list[Bar]:
    def step(name: str) -> dict[str, Any] | None:
        for s in zone_subtasks:
            sv = subjects.server(s["id"])
            # "Wait observer active" is one step for the whole zone: it says when all its servers are back.
            ours = sv.address == address if sv else name == ANSWERING[1]
            if s["name"] == name and ours:
                return s
        return None

    stop = step(STOP)
    rows: list[Bar] = []
    for s in (x for x in (stop, *(step(n) for n in ANSWERING)) if x and int(x.get("runTime") or 0) > 1):
        rows.extend(_earlier_runs(client, task, s))
    sent = _time(stop.get("startTime")) if stop else None
    if sent is None:
        return rows
    answering = next((s for s in (step(n) for n in ANSWERING) if s and s.get("startTime")), None)
    back = _time(answering.get("finishTime")) if answering else None
    rows.insert(0, Bar(sent, back or now, address, "down" if back else "down…"))
    return rows


def _earlier_runs(client: ApiClient, task: dict[str, Any], s: dict[str, Any]) -> list[Bar]:
    try:
        data = client.call("GET", f"{BASE}/{task['id']}/subtasks/{s['id']}/log") or {}
    except ApiError:
        return []
    runs = runs_of(str(data.get("log", "")))[:-1]  # the last run is the subtask's own times
    return [Bar(t0, t1, f"↳ run {i + 1}: {s['name']}", "retry") for i, (t0, t1) in enumerate(runs)]


MARKS = {"zone": ("━", "cyan"), "down": ("█", "red"), "down…": ("█", "yellow"), "retry": ("░", "magenta")}


def render(task: dict[str, Any], timeline: Timeline, last: dict[str, Any], width: int) -> RenderableType:
    total = max((timeline.end - timeline.start).total_seconds(), 0.001)
    room = max(20, width - LABEL - 34)
    status = str(task.get("status", "?"))
    mark, style = STYLE.get(status, ("?", ""))
    title = Text(f"task {task['id']} {task.get('name', '')} — ")
    title.append(f"{mark} {status}", style=style)
    title.append(f" · {_clock(timeline.start)} → {_clock(timeline.end)} ({total:.1f} s)")
    lines: list[RenderableType] = [title, Text(" " * LABEL + _scale(total, room))]
    for bar in timeline.rows:
        lines.append(_bar_line(bar, timeline.start, total, room))
    if not timeline.rows:
        lines.append(Text("no zone or server steps to draw (the task's event stream named none)"))
    figure = availability(last) if last.get("taskId") == task["id"] else ""
    lines.append(Text(figure or "availability: not measured for this task (or not its cluster's last one)"))
    lines.append(Text(LEGEND, style="dim"))
    return Group(*lines)


def _clock(t: datetime) -> str:
    return t.strftime("%H:%M:%S.") + f"{t.microsecond // 100000}"


def _scale(total: float, room: int) -> str:
    ticks = "0s".ljust(room // 2) + f"{total / 2:.1f}s"
    return ticks.ljust(room - len(f"{total:.1f}s")) + f"{total:.1f}s"


def _bar_line(bar: Bar, origin: datetime, total: float, room: int) -> Text:
    char, style = MARKS[bar.kind]
    left = round((bar.start - origin).total_seconds() / total * room)
    length = max(1, round(bar.seconds / total * room))
    left = min(max(0, left), room - 1)
    length = min(length, room - left)
    name = bar.label if bar.kind == "zone" else f"  {bar.label}"
    text = Text(f"{name[: LABEL - 1]:<{LABEL}}")
    text.append(" " * left)
    text.append(char * length, style=style)
    text.append(" " * (room - left - length))
    at = (bar.start - origin).total_seconds()
    word = {"zone": "", "down": " down", "down…": " down (still)", "retry": " ran"}[bar.kind]
    text.append(f"{word} {bar.seconds:.1f} s at +{at:.1f} s")
    return text
