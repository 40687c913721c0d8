"""`obcp accesskey create|list|disable|enable|delete`: one's access keys (OCP 4.x AK/SK); with `--user-id`,
an administrator lists, disables or deletes another user's."""

from __future__ import annotations

import typer

from obcp.cli.root import api

accesskey_app = typer.Typer(
    help="Access keys, to sign requests instead of sending a password.", no_args_is_help=True
)

MINE = "/api/v2/profiles/me/accessKeys"
USER_ID = typer.Option(None, "--user-id", help="another user's keys (needs USER:<id>:UPDATE)")


def _base(user_id: int | None) -> str:
    return MINE if user_id is None else f"/api/v2/iam/users/{user_id}/accessKeys"


@accesskey_app.command("create")
def create(ctx: typer.Context, description: str = typer.Option(None, "--description")) -> None:
    """Create a key; its secret is printed this once and cannot be read again."""
    data = api(ctx).call("POST", MINE, json={"description": description} if description else {})
    typer.echo(f"AccessKeyId: {data['accessKeyId']}")
    typer.echo(f"AccessKeySecret: {data['accessKeySecret']}")
    typer.echo("The secret is shown this once: keep it now (OBCP_ACCESS_KEY_SECRET).", err=True)


@accesskey_app.command("list")
def list_keys(ctx: typer.Context, user_id: int | None = USER_ID) -> None:
    """List the keys: id, status, created, last used, description."""
    for k in api(ctx).call("GET", _base(user_id))["contents"]:
        last = k.get("lastUsedTime", "never used")
        typer.echo(
            f"{k['accessKeyId']}  {k['status']:<8} {k['createTime']}  {last}  {k.get('description', '')}"
        )


@accesskey_app.command("disable")
def disable(ctx: typer.Context, access_key_id: str, user_id: int | None = USER_ID) -> None:
    """Disable a key: requests signed with it are refused at once."""
    data = api(ctx).call("POST", f"{_base(user_id)}/{access_key_id}/disable")
    typer.echo(f"{data['accessKeyId']}: {data['status']}")


@accesskey_app.command("enable")
def enable(ctx: typer.Context, access_key_id: str) -> None:
    """Enable one of one's disabled keys."""
    data = api(ctx).call("POST", f"{MINE}/{access_key_id}/enable")
    typer.echo(f"{data['accessKeyId']}: {data['status']}")


@accesskey_app.command("delete")
def delete(ctx: typer.Context, access_key_id: str, user_id: int | None = USER_ID) -> None:
    """Delete a key for good."""
    api(ctx).call("DELETE", f"{_base(user_id)}/{access_key_id}")
    typer.echo(f"{access_key_id}: deleted")
