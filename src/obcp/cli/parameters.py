"""`obcp cluster parameter list|set`: a cluster's parameters, value per server, and which servers still
have to restart for a static one."""

from __future__ import annotations

from typing import Any

import typer

from obcp.cli.operations import cluster_path
from obcp.cli.root import api

parameter_app = typer.Typer(help="Cluster parameters.", no_args_is_help=True)


def describe(p: dict[str, Any]) -> str:
    """One line: name, value(s), and what a restart would still change."""
    current = p.get("currentValue") or {}
    by_value = current.get("valueToServers") or {}
    if len(by_value) <= 1:
        shown = next(iter(by_value), "")
    else:
        shown = "; ".join(f"{v} on {len(s)} server(s)" for v, s in by_value.items())
    line = f"{p['name']} = {shown}"
    if p.get("readonly"):
        line += "  (read-only)"
    elif p.get("needRestart"):
        line += "  (static: takes effect at restart)"
    pending = p.get("pendingServers") or []
    if pending:
        where = ", ".join(f"{s['zone']} {s['svrIp']}:{s.get('sqlPort', s['svrPort'])}" for s in pending)
        line += f"  pending restart on {len(pending)} server(s) for {p.get('pendingValue')}: {where}"
    return line


def _parameters(ctx: typer.Context, cluster_id: int, name: str | None, pending: bool) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"size": 2000}
    if name:
        params["name"] = name
    if pending:
        params["pendingRestart"] = "true"
    data = api(ctx).call("GET", cluster_path(cluster_id, "parameters"), params=params)
    return list(data["contents"])


@parameter_app.command("list")
def list_parameters(
    ctx: typer.Context,
    cluster_id: int,
    name: str = typer.Option(None, "--name", help="only names containing this"),
    pending: bool = typer.Option(False, "--pending", help="only those pending restart"),
) -> None:
    """List a cluster's parameters as its observers report them."""
    for p in _parameters(ctx, cluster_id, name, pending):
        typer.echo(describe(p))


@parameter_app.command("set")
def set_parameters(
    ctx: typer.Context,
    cluster_id: int,
    assignments: list[str] = typer.Argument(..., help="NAME=VALUE, one or more; all or none are applied"),
) -> None:
    """Change parameters: every one is checked first, one bad entry changes nothing."""
    body = []
    for a in assignments:
        name, sep, value = a.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{a!r} is not NAME=VALUE", param_hint="ASSIGNMENTS")
        body.append({"name": name.strip(), "value": value})
    api(ctx).call("PUT", cluster_path(cluster_id, "parameters"), json=body)
    for entry in body:
        found = [p for p in _parameters(ctx, cluster_id, entry["name"], False) if p["name"] == entry["name"]]
        for p in found:
            pending = p.get("pendingServers") or []
            state = f"pending restart on {len(pending)} server(s)" if pending else "in effect"
            typer.echo(f"{p['name']} set to {entry['value']}: {state}")
