"""`obcp server restart|start|stop CLUSTER_ID SERVER_ID`: OBServer operations through the API.

`obcp server` with no sub-command runs the API server (main.py makes that the group's callback).
"""

from __future__ import annotations

from typing import Any

import typer

from obcp.cli.client import PASSWORD, SERVER_URL, USER, connection_options
from obcp.cli.clusters import WAIT, run_operation

server_app = typer.Typer(
    help="Without a sub-command: run the API server. With one: operate on an OBServer of a cluster."
)


def _path(cluster_id: int, server_id: int, action: str) -> str:
    return f"/api/v2/ob/clusters/{cluster_id}/servers/{server_id}/{action}"


@server_app.command("restart")
def restart(
    cluster_id: int,
    server_id: int,
    force: bool = typer.Option(False, "--force", help="restart without ALTER SYSTEM STOP SERVER"),
    wait: bool = WAIT,
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Restart one observer through its agent, proven to serve SQL again as a new process."""
    conn = connection_options(server_url, user, password)
    body: dict[str, Any] = {"force": force}
    run_operation(conn, _path(cluster_id, server_id, "restart"), wait=wait, json=body)


@server_app.command("start")
def start(
    cluster_id: int,
    server_id: int,
    wait: bool = WAIT,
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Start a stopped observer (never initialises it), then START SERVER if it was stopped so."""
    conn = connection_options(server_url, user, password)
    run_operation(conn, _path(cluster_id, server_id, "start"), wait=wait)


@server_app.command("stop")
def stop(
    cluster_id: int,
    server_id: int,
    wait: bool = WAIT,
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Stop one observer (STOP SERVER first when distributed, refused without a majority left)."""
    conn = connection_options(server_url, user, password)
    run_operation(conn, _path(cluster_id, server_id, "stop"), wait=wait)
