"""`obcp cluster …`: clusters as the server sees them."""

from __future__ import annotations

import json

import typer

from obcp.cli.client import PASSWORD, SERVER_URL, USER, ApiError, connection_options, fail

cluster_app = typer.Typer(help="OceanBase clusters.", no_args_is_help=True)


@cluster_app.command("list")
def list_clusters(server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """List the clusters with their status and topology."""
    conn = connection_options(server_url, user, password)
    try:
        data = conn.call("GET", "/api/v2/ob/clusters", params={"size": 2000})
    except ApiError as exc:
        raise fail(exc) from exc
    for c in data["contents"]:
        zones = ", ".join(f"{z['name']}×{z['serverCount']}" for z in c.get("zones", []))
        typer.echo(f"{c['id']:>6}  {c['name']:<20} {c['status']:<12} {zones}")


@cluster_app.command("show")
def show(cluster_id: int, server_url: str = SERVER_URL, user: str = USER, password: str = PASSWORD) -> None:
    """Show one cluster with its zones and servers (JSON)."""
    conn = connection_options(server_url, user, password)
    try:
        data = conn.call("GET", f"/api/v2/ob/clusters/{cluster_id}")
    except ApiError as exc:
        raise fail(exc) from exc
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
