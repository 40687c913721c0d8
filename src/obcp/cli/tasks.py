"""`obcp task …` and `obcp subtask …`: follow and steer tasks through the task API."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.live import Live

from obcp.cli import dag_view, timeline, watch_view
from obcp.cli import output as out
from obcp.cli.client import ApiClient
from obcp.cli.output import OUTPUT, Output, print_json, show, task_state
from obcp.cli.root import api
from obcp.cli.subjects import Subjects
from obcp.cli.subjects import load as load_subjects

task_app = typer.Typer(help="Tasks: show, watch, retry, roll back.", no_args_is_help=True)
subtask_app = typer.Typer(help="Subtasks: log, retry, skip, cancel.", no_args_is_help=True)

BASE = "/api/v2/tasks/instances"


def watch_task(
    client: ApiClient, task_id: int, *, interval: float = 0.5, console: Console | None = None
) -> str:
    """Follows a task until it ends; returns its final status. On a terminal a live view grouped by zone
    that fits the terminal; otherwise one line per change."""
    console = console or Console()
    task: dict[str, Any] = client.call("GET", f"{BASE}/{task_id}")
    subjects = load_subjects(client, task)
    if console.is_terminal:
        with Live(_view(task, subjects, console), console=console, refresh_per_second=4) as live:
            while task["status"] not in dag_view.FINAL_TASK_STATES:
                time.sleep(interval)
                task = client.call("GET", f"{BASE}/{task_id}")
                live.update(_view(task, subjects, console))
    else:
        seen: dict[int, str] = {}
        while True:
            for line in dag_view.changes(seen, task, subjects):
                print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
            if task["status"] in dag_view.FINAL_TASK_STATES:
                break
            time.sleep(interval)
            task = client.call("GET", f"{BASE}/{task_id}")
    return str(task["status"])


def _view(task: dict[str, Any], subjects: Subjects, console: Console) -> RenderableType:
    height, width = console.size.height, console.size.width
    return watch_view.render(task, subjects, height=height - 1, width=width, now=datetime.now(UTC))


def exit_for(status: str) -> typer.Exit:
    return typer.Exit(0 if status == "SUCCESSFUL" else 1)


@task_app.command("list")
def list_tasks(
    ctx: typer.Context,
    status: str = typer.Option(None, help="RUNNING, FAILED or SUCCESSFUL (comma list)"),
    size: int = typer.Option(20),
    output: Output = OUTPUT,
) -> None:
    """List tasks, newest first."""
    params: dict[str, Any] = {"size": size, "sort": "id,desc"}
    if status:
        params["status"] = status
    data = api(ctx).call("GET", BASE, params=params)
    if output is Output.json:
        return print_json(data)
    rows = [_task_row(t) for t in data["contents"]]
    show(out.table(None, ("id", "state", "task", "cluster", "done", "started", "finished"), rows))


def _task_row(t: dict[str, Any]) -> list[Any]:
    subtasks = t.get("subtasks") or []
    done = f"{sum(1 for s in subtasks if s.get('status') == 'SUCCESSFUL')}/{len(subtasks)}"
    cluster = (t.get("cluster") or {}).get("name", "")
    times = [t.get("startTime"), t.get("finishTime")]
    return [t["id"], task_state(t["status"]), t.get("name", ""), cluster, done, *times]


@task_app.command("show")
def show_task(ctx: typer.Context, task_id: int, output: Output = OUTPUT) -> None:
    """Show a task with its subtasks, each with the zone and server it acts on."""
    client = api(ctx)
    data = client.call("GET", f"{BASE}/{task_id}")
    if output is Output.json:
        return print_json(data)
    show(dag_view.table(data, load_subjects(client, data)))


@task_app.command("timeline")
def show_timeline(ctx: typer.Context, task_id: int) -> None:
    """Where a task's time went: each zone's band, each server's down window, retries, availability."""
    client = api(ctx)
    data = client.call("GET", f"{BASE}/{task_id}")
    subjects = load_subjects(client, data)
    cluster = data.get("cluster") or {}
    shown = client.call("GET", f"/api/v2/ob/clusters/{cluster['id']}") if cluster.get("id") else {}
    last = shown.get("lastOperation")
    drawn = timeline.build(client, data, subjects, datetime.now(UTC))
    console = Console() if Console().is_terminal else Console(width=120)
    console.print(timeline.render(data, drawn, last or {}, console.width))


@task_app.command("watch")
def watch(ctx: typer.Context, task_id: int) -> None:
    """Follow a task until it ends; the exit code is 0 only if it succeeded."""
    raise exit_for(watch_task(api(ctx), task_id))


@task_app.command("retry")
def retry(ctx: typer.Context, task_id: int) -> None:
    """Re-run every failed subtask of a failed task."""
    api(ctx).call("POST", f"{BASE}/{task_id}/retry")
    typer.echo(f"task {task_id}: retrying")


@task_app.command("rollback")
def rollback(ctx: typer.Context, task_id: int) -> None:
    """Give up a failed task: undo its done steps in reverse order."""
    api(ctx).call("POST", f"{BASE}/{task_id}/rollback")
    typer.echo(f"task {task_id}: rolling back")


@subtask_app.command("log")
def log(ctx: typer.Context, task_id: int, subtask_id: int) -> None:
    """Print a subtask's log (every run)."""
    data = api(ctx).call("GET", f"{BASE}/{task_id}/subtasks/{subtask_id}/log")
    sys.stdout.write((data or {}).get("log", "") + "\n")


def _subtask_action(action: str, doc: str) -> Callable[[typer.Context, int, int], None]:
    def command(ctx: typer.Context, task_id: int, subtask_id: int) -> None:
        api(ctx).call("POST", f"{BASE}/{task_id}/subtasks/{subtask_id}/{action}")
        typer.echo(f"subtask {subtask_id} of task {task_id}: {action} requested")

    command.__doc__ = doc
    return command


for _action, _doc in (
    ("retry", "Run a failed subtask again."),
    ("skip", "Mark a failed subtask successful without running it, so the task goes on."),
    ("cancel", "Interrupt a running subtask (it ends FAILED)."),
):
    subtask_app.command(_action)(_subtask_action(_action, _doc))
