"""Running an operation (restart, start, stop of a cluster, zone or server): POST it, print its task, and
with `--wait` follow it; the exit code says how it ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from obcp.cli.client import ApiClient
from obcp.cli.root import api
from obcp.cli.tasks import exit_for, watch_task

WAIT = typer.Option(False, "--wait", help="follow the task until it ends; exit 0 only if it succeeded")
MINOR_FREEZE = typer.Option(
    True, "--minor-freeze/--no-minor-freeze", help="ALTER SYSTEM MINOR FREEZE before each observer stops"
)


def cluster_path(cluster_id: int, *rest: str) -> str:
    return "/".join((f"/api/v2/ob/clusters/{cluster_id}", *rest))


def run_operation(
    ctx: typer.Context,
    path: str,
    *,
    wait: bool,
    body: Any = None,
    note: str = "",
    outcome: Callable[[ApiClient], str] | None = None,
) -> None:
    """`note` follows the task's name on its first line; `outcome` adds to the last line once it ended."""
    client = api(ctx)
    data = client.call("POST", path, json=body)
    typer.echo(f"task {data['id']}: {data['name']}{note}")
    if not wait:
        return
    status = watch_task(client, int(data["id"]))
    typer.echo(f"task {data['id']}: {status}{outcome(client) if outcome else ''}")
    raise exit_for(status)
