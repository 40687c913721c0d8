"""`obcp server list CLUSTER_ID` and `obcp server restart|start|stop CLUSTER_ID SERVER_ID`: OBServers through
the API.

`obcp server` with no sub-command runs the API server (main.py makes that the group's callback).
"""

from __future__ import annotations

from urllib.parse import quote

import typer

from obcp.cli import inventory_view
from obcp.cli.operations import MINOR_FREEZE, WAIT, cluster_path, run_operation
from obcp.cli.output import OUTPUT, Output, print_json, show
from obcp.cli.root import api

server_app = typer.Typer(
    help="Without a sub-command: run the API server. With one: operate on an OBServer of a cluster."
)


@server_app.command("list")
def list_servers(
    ctx: typer.Context,
    cluster_id: int,
    zone: str = typer.Option(None, "--zone", help="only the servers of this zone"),
    output: Output = OUTPUT,
) -> None:
    """List a cluster's OBServers (ip:port as OCP names them) with their status."""
    where = ("zones", quote(zone, safe=""), "servers") if zone else ("servers",)
    path = cluster_path(cluster_id, *where)
    data = api(ctx).call("GET", path)
    if output is Output.json:
        return print_json(data)
    show(inventory_view.servers_table(data["contents"]))


def _path(cluster_id: int, server_id: int, action: str) -> str:
    return cluster_path(cluster_id, "servers", str(server_id), action)


@server_app.command("restart")
def restart(
    ctx: typer.Context,
    cluster_id: int,
    server_id: int,
    force: bool = typer.Option(False, "--force", help="restart without ALTER SYSTEM STOP SERVER"),
    minor_freeze: bool = MINOR_FREEZE,
    wait: bool = WAIT,
) -> None:
    """Restart one observer through its agent, proven to serve SQL again as a new process."""
    body: dict[str, bool] = {"force": force}
    if not minor_freeze:
        body["minorFreeze"] = False
    run_operation(ctx, _path(cluster_id, server_id, "restart"), wait=wait, body=body)


@server_app.command("start")
def start(ctx: typer.Context, cluster_id: int, server_id: int, wait: bool = WAIT) -> None:
    """Start a stopped observer (never initialises it), then START SERVER if it was stopped so."""
    run_operation(ctx, _path(cluster_id, server_id, "start"), wait=wait)


@server_app.command("stop")
def stop(ctx: typer.Context, cluster_id: int, server_id: int, wait: bool = WAIT) -> None:
    """Stop one observer (STOP SERVER first when distributed, refused without a majority left)."""
    run_operation(ctx, _path(cluster_id, server_id, "stop"), wait=wait)
