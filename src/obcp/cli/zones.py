"""`obcp zone restart|start|stop CLUSTER_ID ZONE`: zone operations through the API."""

from __future__ import annotations

from urllib.parse import quote

import typer

from obcp.cli.operations import MINOR_FREEZE, WAIT, cluster_path, run_operation

zone_app = typer.Typer(help="Zones of a cluster: restart, start, stop.", no_args_is_help=True)


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
