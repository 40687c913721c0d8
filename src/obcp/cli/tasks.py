"""`obcp task …` and `obcp subtask …`: follow and steer tasks through the task API."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.console import Console
from rich.live import Live

from obcp.cli import dag_view
from obcp.cli.client import PASSWORD, SERVER_URL, USER, ApiError, Connection, connection_options, fail

task_app = typer.Typer(help="Tasks: show, watch, retry, roll back.", no_args_is_help=True)
subtask_app = typer.Typer(help="Subtasks: log, retry, skip, cancel.", no_args_is_help=True)

BASE = "/api/v2/tasks/instances"


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def watch_task(
    conn: Connection, task_id: int, *, interval: float = 0.5, console: Console | None = None
) -> str:
    """Follows a task until it ends; returns its final status. Live table on a terminal, lines otherwise."""
    console = console or Console()
    task: dict[str, Any] = conn.call("GET", f"{BASE}/{task_id}")
    if console.is_terminal:
        with Live(dag_view.table(task), console=console, refresh_per_second=4) as live:
            while task["status"] not in dag_view.FINAL_TASK_STATES:
                time.sleep(interval)
                task = conn.call("GET", f"{BASE}/{task_id}")
                live.update(dag_view.table(task))
    else:
        seen: dict[int, str] = {}
        while True:
            for line in dag_view.changes(seen, task):
                print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
            if task["status"] in dag_view.FINAL_TASK_STATES:
                break
            time.sleep(interval)
            task = conn.call("GET", f"{BASE}/{task_id}")
    return str(task["status"])


def exit_for(status: str) -> typer.Exit:
    return typer.Exit(0 if status == "SUCCESSFUL" else 1)


@task_app.command("list")
def list_tasks(
    status: str = typer.Option(None, help="RUNNING, FAILED or SUCCESSFUL (comma list)"),
    size: int = typer.Option(20),
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """List tasks, newest first."""
    conn = connection_options(server_url, user, password)
    params: dict[str, Any] = {"size": size, "sort": "id,desc"}
    if status:
        params["status"] = status
    try:
        data = conn.call("GET", BASE, params=params)
    except ApiError as exc:
        raise fail(exc) from exc
    for t in data["contents"]:
        typer.echo(f"{t['id']:>8}  {t['status']:<10}  {t.get('name', '')}")


@task_app.command("show")
def show(task_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """Show a task with its subtasks."""
    conn = connection_options(server_url, user, password)
    try:
        task = conn.call("GET", f"{BASE}/{task_id}")
    except ApiError as exc:
        raise fail(exc) from exc
    Console().print(dag_view.table(task))


@task_app.command("watch")
def watch(task_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """Follow a task until it ends; the exit code is 0 only if it succeeded."""
    conn = connection_options(server_url, user, password)
    try:
        status = watch_task(conn, task_id)
    except ApiError as exc:
        raise fail(exc) from exc
    raise exit_for(status)


def _act(path: str, server_url: str | None, user: str | None, password: str | None) -> Any:
    conn = connection_options(server_url, user, password)
    try:
        return conn.call("POST", path)
    except ApiError as exc:
        raise fail(exc) from exc


@task_app.command("retry")
def retry(task_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """Re-run every failed subtask of a failed task."""
    _act(f"{BASE}/{task_id}/retry", server_url, user, password)
    typer.echo(f"task {task_id}: retrying")


@task_app.command("rollback")
def rollback(task_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """Give up a failed task: undo its done steps in reverse order."""
    _act(f"{BASE}/{task_id}/rollback", server_url, user, password)
    typer.echo(f"task {task_id}: rolling back")


@subtask_app.command("log")
def log(
    task_id: int, subtask_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD
) -> None:
    """Print a subtask's log (every run)."""
    conn = connection_options(server_url, user, password)
    try:
        data = conn.call("GET", f"{BASE}/{task_id}/subtasks/{subtask_id}/log")
    except ApiError as exc:
        raise fail(exc) from exc
    sys.stdout.write((data or {}).get("log", "") + "\n")


def _subtask_action(action: str) -> Any:
    def command(
        task_id: int,
        subtask_id: int,
        server_url: str = SERVER_URL,
        user: str = USER,
        password: str = PASSWORD,
    ) -> None:
        _act(f"{BASE}/{task_id}/subtasks/{subtask_id}/{action}", server_url, user, password)
        typer.echo(f"subtask {subtask_id} of task {task_id}: {action} requested")

    command.__doc__ = {
        "retry": "Run a failed subtask again.",
        "skip": "Mark a failed subtask successful without running it, so the task goes on.",
        "cancel": "Interrupt a running subtask (it ends FAILED).",
    }[action]
    return command


for _action in ("retry", "skip", "cancel"):
    subtask_app.command(_action)(_subtask_action(_action))
