"""`obcp audit list`: the audit trail (who changed what, from where, with which result), newest first;
needs AUDIT:*:READ (the AUDIT_VIEWER role)."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from obcp.cli import output as out
from obcp.cli.output import OUTPUT, Output, print_json, show
from obcp.cli.root import api

audit_app = typer.Typer(help="The audit trail: who changed what, and who tried.", no_args_is_help=True)

EVENTS = "/api/v2/audit/events"


@audit_app.command("list")
def list_events(
    ctx: typer.Context,
    user: str = typer.Option(None, "--user", help="a user name"),
    action: str = typer.Option(None, "--action", help="e.g. CLUSTER_RESTART, LOGIN"),
    resource_type: str = typer.Option(None, "--resource-type", help="e.g. OB_CLUSTER, USER, HOST"),
    resource_id: str = typer.Option(None, "--resource-id"),
    result: str = typer.Option(None, "--result", help="SUCCESS or FAILED"),
    since: str = typer.Option(None, "--since", help="ISO-8601 time, e.g. 2026-01-31T08:00:00Z"),
    until: str = typer.Option(None, "--until", help="ISO-8601 time"),
    size: int = typer.Option(20, "--size", help="events per page"),
    page: int = typer.Option(1, "--page"),
    output: Output = OUTPUT,
) -> None:
    """List audit events, newest first."""
    wanted = {
        "userName": user,
        "action": action,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "result": result,
        "startTime": since,
        "endTime": until,
    }
    params: dict[str, Any] = {k: v for k, v in wanted.items() if v is not None}
    params.update(size=size, page=page)
    data = api(ctx).call("GET", EVENTS, params=params)
    if output is Output.json:
        return print_json(data)
    columns = ("time", "user", "from", "action", "resource", "result", "traceId")
    show(out.table(None, columns, [_row(e) for e in data["contents"]]))
    p = data["page"]
    if p["totalPages"] > 1:
        typer.echo(
            f"page {p['number']} of {p['totalPages']} ({p['totalElements']} events): --page N", err=True
        )


def _row(e: dict[str, Any]) -> list[Any]:
    who = e.get("userName") or ""
    if e.get("accessKeyId"):
        who = f"{who} (key {e['accessKeyId']})".strip()
    resource = f"{e['resourceType']} {e.get('resourceId', '')}".strip()
    if e["result"] == "SUCCESS":
        result = Text("✓ SUCCESS", style="green")
    else:
        result = Text(f"✗ FAILED {e.get('errorCode', '')}".strip(), style="bold red")
    return [e["createTime"], who, e["clientIpAddress"], e["action"], resource, result, e["traceId"]]
