"""`obcp user unlock USER_ID`: lets a user locked by failed logins log in again (needs USER:<id>:UPDATE)."""

from __future__ import annotations

import typer

from obcp.cli.root import api

user_app = typer.Typer(help="Users.", no_args_is_help=True)


@user_app.command("unlock")
def unlock(ctx: typer.Context, user_id: int) -> None:
    """Unlock a user locked by failed logins, and forget its failures."""
    data = api(ctx).call("POST", f"/api/v2/iam/users/{user_id}/unlock")
    typer.echo(f"{data['username']} (id {data['id']}): unlocked")
