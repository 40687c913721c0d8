"""`obcp task …` and `obcp subtask …`: follow and steer tasks through the task API."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.live import Live

from obcp.cli import dag_view
from obcp.cli.client import ApiClient
from obcp.cli.root import api

task_app = typer.Typer(help="Tasks: show, watch, retry, roll back.", no_args_is_help=True)
subtask_app = typer.Typer(help="Subtasks: log, retry, skip, cancel.", no_args_is_help=True)

BASE = "/api/v2/tasks/instances"


def watch_task(
    client: ApiClient, task_id: int, *, interval: float = 0.5, console: Console | None = None
) -> str:
    """Follows a task until it ends; returns its final status. Live table on a terminal, lines otherwise."""
    console = console or Console()
    task: dict[str, Any] = client.call("GET", f"{BASE}/{task_id}")
    if console.is_terminal:
        with Live(dag_view.table(task), console=console, refresh_per_second=4) as live:
            while task["status"] not in dag_view.FINAL_TASK_STATES:
                time.sleep(interval)
                task = client.call("GET", f"{BASE}/{task_id}")
                live.update(dag_view.table(task))
    else:
        seen: dict[int, str] = {}
        while True:
            for line in dag_view.changes(seen, task):
                print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
            if task["status"] in dag_view.FINAL_TASK_STATES:
                break
            time.sleep(interval)
            task = client.call("GET", f"{BASE}/{task_id}")
    return str(task["status"])


def exit_for(status: str) -> typer.Exit:
    return typer.Exit(0 if status == "SUCCESSFUL" else 1)


@task_app.command("list")
def list_tasks(
    ctx: typer.Context,
    status: str = typer.Option(None, help="RUNNING, FAILED or SUCCESSFUL (comma list)"),
    size: int = typer.Option(20),
) -> None:
    """List tasks, newest first."""
    params: dict[str, Any] = {"size": size, "sort": "id,desc"}
    if status:
        params["status"] = status
    for t in api(ctx).call("GET", BASE, params=params)["contents"]:
        typer.echo(f"{t['id']:>8}  {t['status']:<10}  {t.get('name', '')}")


@task_app.command("show")
def show(ctx: typer.Context, task_id: int) -> None:
    """Show a task with its subtasks."""
    Console().print(dag_view.table(api(ctx).call("GET", f"{BASE}/{task_id}")))


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
