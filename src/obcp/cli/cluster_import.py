"""`obcp cluster import-obd`: an obd deployment's hosts, agents and cluster brought under management.

The file's servers are sent as a dry run first: the server reads the topology back from the observers and
asks each host's agent for its observers; any difference is printed and nothing is written. Only when all
agree is the same import sent for real (and checked again by the server, in case anything changed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from obcp.agent.obd_config import ObdConfigError, ObdServer, load_obd_global, load_obd_servers
from obcp.cli.root import api

IMPORT_PATH = "/api/v2/ob/clusters/import"
DEFAULT_ZONE = "zone1"


def _root_password(config: Path, settings: dict[str, Any], password_file: Path | None) -> str:
    if password_file is not None:
        return password_file.read_text().strip()
    if settings.get("root_password") is not None:
        return str(settings["root_password"])
    raise ObdConfigError(
        f"{config} has no root_password in its global section: give --root-password-file FILE"
    )


def import_body(
    config: Path, agent_port: int, agent_key: str, name: str | None, password_file: Path | None
) -> dict[str, Any]:
    """The import request for obd's config.yaml: one host per distinct IP, one server per obd server."""
    servers: list[ObdServer] = load_obd_servers(config)
    settings = load_obd_global(config)
    addresses = list(dict.fromkeys(s.ip for s in servers))
    body: dict[str, Any] = {
        "name": name or str(settings.get("appname") or config.stem),
        "rootPassword": _root_password(config, settings, password_file),
        "hosts": [{"address": a, "agentPort": agent_port, "agentKey": agent_key} for a in addresses],
        "servers": [
            {
                "observerName": s.name,
                "address": s.ip,
                "sqlPort": s.mysql_port,
                "rpcPort": s.rpc_port,
                "zoneName": s.zone or DEFAULT_ZONE,
            }
            for s in servers
        ],
    }
    if settings.get("cluster_id") is not None:
        body["obClusterId"] = int(settings["cluster_id"])
    return body


def import_obd(
    ctx: typer.Context,
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="obd's config.yaml"),
    agent_port: int = typer.Option(..., "--agent-port", help="the port every host's agent listens on"),
    agent_key_file: Path = typer.Option(
        ..., "--agent-key-file", exists=True, dir_okay=False, help="the agents' key (as on the hosts)"
    ),
    name: str | None = typer.Option(None, "--name", help="the cluster's name [default: obd's appname]"),
    root_password_file: Path | None = typer.Option(
        None,
        "--root-password-file",
        exists=True,
        dir_okay=False,
        help="root@sys's password [default: obd's root_password]",
    ),
) -> None:
    """Register every host of obd's config.yaml and take its cluster over, in one transaction, after
    checking the file against what the observers and agents report."""
    try:
        body = import_body(config, agent_port, agent_key_file.read_text().strip(), name, root_password_file)
    except ObdConfigError as exc:
        typer.echo(f"obcp: {exc}", err=True)
        raise typer.Exit(1) from None
    client = api(ctx)
    check = client.call("POST", IMPORT_PATH, json={**body, "dryRun": True})
    for s in check["servers"]:
        seen = f"{s['obKind'].lower()} {s['obVersion']}" if s["answered"] else "no answer"
        typer.echo(f"  {s['zoneName']:<12} {s['observerName']:<16} {s['address']}:{s['sqlPort']}  {seen}")
    if not check["agrees"]:
        typer.echo(f"obcp: {config} does not match the cluster; nothing was written:", err=True)
        for difference in check["differences"]:
            typer.echo(f"  - {difference}", err=True)
        raise typer.Exit(1)
    cluster = client.call("POST", IMPORT_PATH, json=body)
    typer.echo(f"imported cluster {cluster['name']} with {len(body['hosts'])} host(s)")
    typer.echo(f"cluster id: {cluster['id']}")
