"""`obcp cluster …`: clusters as the server sees them, and their restart, start and stop."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from obcp.cli import dag_view, inventory_view
from obcp.cli.client import ApiClient
from obcp.cli.cluster_import import import_obd
from obcp.cli.operations import MINOR_FREEZE, WAIT, cluster_path, run_operation
from obcp.cli.output import OUTPUT, Output, print_json, show
from obcp.cli.parameters import parameter_app
from obcp.cli.root import api

cluster_app = typer.Typer(help="OceanBase clusters.", no_args_is_help=True)
cluster_app.command("import-obd")(import_obd)
cluster_app.add_typer(parameter_app, name="parameter")


@cluster_app.command("list")
def list_clusters(ctx: typer.Context, output: Output = OUTPUT) -> None:
    """List the clusters with their status and topology."""
    data = api(ctx).call("GET", "/api/v2/ob/clusters", params={"size": 2000})
    if output is Output.json:
        return print_json(data)
    show(inventory_view.clusters_table(data["contents"]))


@cluster_app.command("show")
def show_cluster(ctx: typer.Context, cluster_id: int, output: Output = OUTPUT) -> None:
    """Show one cluster: its summary, its last operation, its zones and servers."""
    data = api(ctx).call("GET", cluster_path(cluster_id))
    if output is Output.json:
        return print_json(data)
    show(*inventory_view.cluster_tables(data))


class Mode(StrEnum):
    rolling = "rolling"
    force = "force"


@cluster_app.command("restart")
def restart(
    ctx: typer.Context,
    cluster_id: int,
    mode: Mode = typer.Option(Mode.rolling, "--mode", help="rolling: zone after zone; force: all at once"),
    zone: list[str] = typer.Option(None, "--zone", help="restart only this zone (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the DAG that would run; change nothing"),
    minor_freeze: bool = MINOR_FREEZE,
    wait: bool = WAIT,
) -> None:
    """Restart a cluster: every observer, through its agent, proven to serve SQL again."""
    path = cluster_path(cluster_id, "restart")
    body: dict[str, Any] = {"restartMode": mode.value.upper(), "dryRun": dry_run}
    if not minor_freeze:
        body["minorFreeze"] = False
    if zone:
        body["zoneNames"] = zone
    if dry_run:
        for sub in dag_view.ordered(api(ctx).call("POST", path, json=body)["tasks"]):
            typer.echo(f"{sub['id']:>4}  {dag_view.label(sub)}")
        return

    def outage(client: ApiClient) -> str:
        last = client.call("GET", cluster_path(cluster_id)).get("lastOperation") or {}
        figure = last.get("availability") or {}
        if "longestOutageSeconds" not in figure:
            return ""
        return f"; longest interval with no observer answering: {figure['longestOutageSeconds']:.1f} s"

    run_operation(ctx, path, wait=wait, body=body, note=f" ({mode.value})", outcome=outage)


@cluster_app.command("stop")
def stop(ctx: typer.Context, cluster_id: int, wait: bool = WAIT) -> None:
    """Stop every observer of a cluster through its agent (data is kept)."""
    run_operation(ctx, cluster_path(cluster_id, "stop"), wait=wait)


@cluster_app.command("start")
def start(ctx: typer.Context, cluster_id: int, wait: bool = WAIT) -> None:
    """Start a stopped cluster: every observer from its saved configuration, proven to serve SQL."""
    run_operation(ctx, cluster_path(cluster_id, "start"), wait=wait)
