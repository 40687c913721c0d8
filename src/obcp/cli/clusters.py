"""`obcp cluster …`: clusters as the server sees them."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import typer

from obcp.cli import dag_view
from obcp.cli.client import PASSWORD, SERVER_URL, USER, ApiError, Connection, connection_options, fail
from obcp.cli.tasks import exit_for, watch_task

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


class Mode(StrEnum):
    rolling = "rolling"
    force = "force"


@cluster_app.command("restart")
def restart(
    cluster_id: int,
    mode: Mode = typer.Option(Mode.rolling, "--mode", help="rolling: zone after zone; force: all at once"),
    zone: list[str] = typer.Option(None, "--zone", help="restart only this zone (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the DAG that would run; change nothing"),
    wait: bool = typer.Option(
        False, "--wait", help="follow the task until it ends; exit 0 only if it succeeded"
    ),
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Restart a cluster: every observer, through its agent, proven to serve SQL again."""
    conn = connection_options(server_url, user, password)
    body: dict[str, Any] = {"restartMode": mode.value.upper(), "dryRun": dry_run}
    if zone:
        body["zoneNames"] = zone
    try:
        data = conn.call("POST", f"/api/v2/ob/clusters/{cluster_id}/restart", json=body)
    except ApiError as exc:
        raise fail(exc) from exc
    if dry_run:
        for sub in dag_view.ordered(data["tasks"]):
            typer.echo(f"{sub['id']:>4}  {dag_view.label(sub)}")
        return
    typer.echo(f"task {data['id']}: {data['name']} ({mode.value})")
    if not wait:
        return
    try:
        status = watch_task(conn, int(data["id"]))
        outcome = conn.call("GET", f"/api/v2/ob/clusters/{cluster_id}")
    except ApiError as exc:
        raise fail(exc) from exc
    last = outcome.get("lastOperation") or {}
    figure = last.get("availability") or {}
    if "longestOutageSeconds" in figure:
        typer.echo(
            f"task {data['id']}: {status}; longest interval with no observer answering: "
            f"{figure['longestOutageSeconds']:.1f} s"
        )
    else:
        typer.echo(f"task {data['id']}: {status}")
    raise exit_for(status)


WAIT = typer.Option(False, "--wait", help="follow the task until it ends; exit 0 only if it succeeded")


def run_operation(conn: Connection, path: str, *, wait: bool, json: Any = None) -> None:
    """POST an operation, print its task, and with `wait` follow it; the exit code says how it ended."""
    try:
        data = conn.call("POST", path, json=json)
    except ApiError as exc:
        raise fail(exc) from exc
    typer.echo(f"task {data['id']}: {data['name']}")
    if not wait:
        return
    try:
        status = watch_task(conn, int(data["id"]))
    except ApiError as exc:
        raise fail(exc) from exc
    typer.echo(f"task {data['id']}: {status}")
    raise exit_for(status)


@cluster_app.command("stop")
def stop(
    cluster_id: int,
    wait: bool = WAIT,
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Stop every observer of a cluster through its agent (data is kept)."""
    conn = connection_options(server_url, user, password)
    run_operation(conn, f"/api/v2/ob/clusters/{cluster_id}/stop", wait=wait)


@cluster_app.command("start")
def start(
    cluster_id: int,
    wait: bool = WAIT,
    server_url: str = SERVER_URL,
    user: str = USER,
    password: str = PASSWORD,
) -> None:
    """Start a stopped cluster: every observer from its saved configuration, proven to serve SQL."""
    conn = connection_options(server_url, user, password)
    run_operation(conn, f"/api/v2/ob/clusters/{cluster_id}/start", wait=wait)
