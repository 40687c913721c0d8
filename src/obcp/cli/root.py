"""What every `obcp` command shares: the API options, read once into an `ApiClient` by the root callback,
and one place where an API error becomes the message and the exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from obcp.cli.client import DEFAULT_URL, DEFAULT_USER, ApiClient, ApiError

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
) -> None:
    """obcp: an open, OCP-compatible control plane for OceanBase."""
    # Building the client sends nothing: commands that never call the API work without a password.
    ctx.obj = ApiClient(server_url, user, password)
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
