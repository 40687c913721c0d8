"""`obcp zone list CLUSTER_ID` and `obcp zone restart|start|stop CLUSTER_ID ZONE`: zones through the API."""

from __future__ import annotations

from urllib.parse import quote

import typer

from obcp.cli import inventory_view
from obcp.cli.operations import MINOR_FREEZE, WAIT, cluster_path, run_operation
from obcp.cli.output import OUTPUT, Output, print_json, show
from obcp.cli.root import api

zone_app = typer.Typer(help="Zones of a cluster: list, restart, start, stop.", no_args_is_help=True)


@zone_app.command("list")
def list_zones(ctx: typer.Context, cluster_id: int, output: Output = OUTPUT) -> None:
    """List a cluster's zones with their status and server count."""
    data = api(ctx).call("GET", cluster_path(cluster_id, "zones"))
    if output is Output.json:
        return print_json(data)
    show(inventory_view.zones_table(data["contents"]))


def _path(cluster_id: int, zone: str, action: str) -> str:
    return cluster_path(cluster_id, "zones", quote(zone, safe=""), action)


@zone_app.command("restart")
def restart(
    ctx: typer.Context, cluster_id: int, zone: str, minor_freeze: bool = MINOR_FREEZE, wait: bool = WAIT
) -> None:
    """Restart every observer of a zone (ALTER SYSTEM STOP/START ZONE when distributed)."""
    body = None if minor_freeze else {"minorFreeze": False}
    run_operation(ctx, _path(cluster_id, zone, "restart"), wait=wait, body=body)


@zone_app.command("start")
def start(ctx: typer.Context, cluster_id: int, zone: str, wait: bool = WAIT) -> None:
    """Start a stopped zone: its observers, proven to serve SQL, then START ZONE if needed."""
    run_operation(ctx, _path(cluster_id, zone, "start"), wait=wait)


@zone_app.command("stop")
def stop(ctx: typer.Context, cluster_id: int, zone: str, wait: bool = WAIT) -> None:
    """Stop a zone (STOP ZONE when distributed, refused without a majority left), data kept."""
    run_operation(ctx, _path(cluster_id, zone, "stop"), wait=wait)
