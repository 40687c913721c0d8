"""`obcp sandbox up|status|down`: a local multi-zone cluster of real seekdb observers with their agents."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from obcp.cli.client import ApiClient
from obcp.cli.root import api as root_api

if TYPE_CHECKING:
    from obcp.sandbox.up import ServerApiSettings

app = typer.Typer(
    help="A local cluster of real seekdb observers, one agent per loopback address (127.0.0.2, …).",
    no_args_is_help=True,
)

DirOption = typer.Option(None, "--dir", help="sandbox directory [default: $OBCP_HOME/sandbox]")


def _root(directory: Path | None) -> Path:
    from obcp.sandbox.state import default_sandbox_dir

    return (directory or default_sandbox_dir()).resolve()


def _say(line: str) -> None:
    typer.echo(f"obcp sandbox: {line}")


def _registration(
    client: ApiClient, server_url: str | None, user: str | None, password: str | None
) -> ServerApiSettings:
    """The server `up` registers with: its own options where given, else those of `obcp` (or OBCP_*)."""
    from obcp.sandbox.up import ServerApiSettings

    password = client.password if password is None else password
    if not password:
        typer.echo(
            "obcp sandbox: --password (or OBCP_PASSWORD) is needed to register with the server", err=True
        )
        raise typer.Exit(2)
    return ServerApiSettings(server_url or client.url, user or client.user, password, client.ca_file)


@app.command()
def up(
    ctx: typer.Context,
    zones: int = typer.Option(3, "--zones", min=1, max=16, help="number of zones"),
    servers_per_zone: int = typer.Option(1, "--servers-per-zone", min=1, max=16),
    name: str = typer.Option("sandbox", "--name", help="cluster name in obcp"),
    server_url: str = typer.Option(None, "--server-url", help="obcp server; default: obcp's --server-url"),
    user: str = typer.Option(None, "--user", help="user name; default: obcp's --user"),
    password: str = typer.Option(None, "--password", help="password of --user; default: obcp's --password"),
    no_register: bool = typer.Option(False, "--no-register", help="only build it locally; skip the server"),
    directory: Path | None = DirOption,
) -> None:
    """Build (or bring back) the sandbox, register its hosts, take over its cluster, print the cluster id."""
    from obcp.agent.config import SeekdbPackageMissing, bundled_seekdb_binary
    from obcp.sandbox.server_api import ServerApiError
    from obcp.sandbox.up import SandboxError, sandbox_up

    try:
        bundled_seekdb_binary()
    except SeekdbPackageMissing:
        typer.echo(f"obcp sandbox: {SeekdbPackageMissing('the sandbox', '')}", err=True)
        raise typer.Exit(2) from None
    api = None if no_register else _registration(root_api(ctx), server_url, user, password)
    root = _root(directory)
    try:
        result = asyncio.run(sandbox_up(root, zones, servers_per_zone, name, api, _say))
    except (SandboxError, ServerApiError) as exc:
        typer.echo(f"obcp sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    for server, observer in zip(result.state.servers, result.observers, strict=True):
        rss = (observer.get("rssBytes") or 0) / 2**20
        _say(
            f"{server.zone} {server.observer_name}: host {server.address} agent :{server.agent_port} "
            f"sql :{server.sql_port} pid {observer.get('pid')} rss {rss:.0f} MB"
        )
    _say(f"ready in {result.seconds:.1f} s; data in {root}")
    if result.state.cluster_id is not None:
        how = "taken over" if result.cluster_created else "already registered"
        _say(f"cluster {result.state.cluster_name!r} {how}")
        typer.echo(f"cluster id: {result.state.cluster_id}")


@app.command()
def status(
    directory: Path | None = DirOption,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show each server's agent and observer (running, pid, RSS)."""
    from obcp.sandbox.down import sandbox_status
    from obcp.sandbox.up import SandboxError

    try:
        report = asyncio.run(sandbox_status(_root(directory)))
    except SandboxError as exc:
        typer.echo(f"obcp sandbox: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    typer.echo(f"sandbox {report['dir']}: cluster {report['clusterName']!r} id {report['clusterId']}")
    for row in report["servers"]:
        agent = f"agent pid {row['agentPid']}" if row["agentRunning"] else "agent DOWN"
        if row["observerRunning"]:
            observer = f"observer pid {row['observerPid']} rss {(row['rssBytes'] or 0) / 2**20:.0f} MB"
        else:
            observer = "observer DOWN"
        typer.echo(
            f"  {row['zone']:<8} {row['observer']:<14} {row['address']}:{row['agentPort']:<6} "
            f"sql :{row['sqlPort']:<6} {agent:<16} {observer}"
        )


@app.command()
def down(
    purge: bool = typer.Option(
        False, "--purge", help="also delete the observers' data and the sandbox files"
    ),
    directory: Path | None = DirOption,
) -> None:
    """Stop every observer and agent the sandbox started (by pid); --purge deletes the data too."""
    from obcp.sandbox.down import sandbox_down
    from obcp.sandbox.up import SandboxError

    try:
        asyncio.run(sandbox_down(_root(directory), purge, _say))
    except SandboxError as exc:
        typer.echo(f"obcp sandbox: {exc}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
