"""What every `obcp` command shares: the API options, read once into an `ApiClient` by the root callback,
and one place where an API error becomes the message and the exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from obcp.cli.client import DEFAULT_URL, DEFAULT_USER, ApiClient, ApiError
from obcp.cli.signing import AccessKey

API_ERROR_EXIT = 2


def use_api(
    ctx: typer.Context,
    server_url: str = typer.Option(
        DEFAULT_URL, "--server-url", "--url", envvar="OBCP_URL", help="URL of the obcp server"
    ),
    user: str = typer.Option(DEFAULT_USER, "--user", envvar="OBCP_USER", help="user name"),
    password: str = typer.Option(
        "", "--password", envvar="OBCP_PASSWORD", show_default=False, help="password (prefer OBCP_PASSWORD)"
    ),
    access_key_id: str = typer.Option(
        "", "--access-key-id", envvar="OBCP_ACCESS_KEY_ID", show_default=False, help="sign with this key"
    ),
    access_key_secret: str = typer.Option(
        "",
        "--access-key-secret",
        envvar="OBCP_ACCESS_KEY_SECRET",
        show_default=False,
        help="the key's secret (prefer OBCP_ACCESS_KEY_SECRET)",
    ),
    ca_file: Path = typer.Option(
        None, "--ca-file", envvar="OBCP_CA_FILE", help="verify an https:// server against this CA (PEM)"
    ),
) -> None:
    """obcp: an open, OCP-compatible control plane for OceanBase."""
    if bool(access_key_id) != bool(access_key_secret):
        raise typer.BadParameter("give both OBCP_ACCESS_KEY_ID and OBCP_ACCESS_KEY_SECRET, or neither")
    key = AccessKey(access_key_id, access_key_secret) if access_key_id else None
    # Building the client sends nothing: commands that never call the API work without a password.
    ctx.obj = ApiClient(server_url, user, password, access_key=key, ca_file=ca_file)
    # The root context is closed with the exception of whichever command ran below it.
    ctx.with_resource(_api_errors_reported())


@contextmanager
def _api_errors_reported() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        typer.echo(f"obcp: {exc}", err=True)
        raise typer.Exit(API_ERROR_EXIT) from None


def api(ctx: typer.Context) -> ApiClient:
    """The client the root callback built for the command being run."""
    client = ctx.find_root().obj
    if not isinstance(client, ApiClient):
        raise RuntimeError("an API command ran without the options of `obcp` itself")
    return client
