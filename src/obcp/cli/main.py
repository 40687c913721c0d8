"""The `obcp` command: `obcp server`, `obcp db upgrade`, and the sub-commands registered below.

The API options (`--server-url`, `--user`, `--password`) belong to `obcp` itself, before the sub-command:
`obcp --server-url URL cluster list`, or from OBCP_URL, OBCP_USER and OBCP_PASSWORD; with OBCP_ACCESS_KEY_ID
and OBCP_ACCESS_KEY_SECRET, `obcp` signs its requests with that access key instead."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer

from obcp import __version__, logformat
from obcp.cli.access_keys import accesskey_app
from obcp.cli.agent import app as agent_app
from obcp.cli.audit import audit_app
from obcp.cli.clusters import cluster_app
from obcp.cli.install import server_install, server_uninstall
from obcp.cli.root import use_api
from obcp.cli.sandbox import app as sandbox_app
from obcp.cli.secrets import secrets_app
from obcp.cli.servers import server_app
from obcp.cli.tasks import subtask_app, task_app
from obcp.cli.users import user_app
from obcp.cli.zones import zone_app
from obcp.config import Settings

app = typer.Typer(callback=use_api, no_args_is_help=True)
db_app = typer.Typer(help="The metadb.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(agent_app, name="agent")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(cluster_app, name="cluster")
app.add_typer(zone_app, name="zone")
app.add_typer(task_app, name="task")
app.add_typer(subtask_app, name="subtask")
app.add_typer(accesskey_app, name="accesskey")
app.add_typer(audit_app, name="audit")
app.add_typer(secrets_app, name="secrets")
app.add_typer(user_app, name="user")


def _settings(home: Path | None, db_url: str | None, **extra: object) -> Settings:
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if home is not None:
        overrides["home"] = home
    if db_url is not None:
        overrides["db_url"] = db_url
    return Settings(**overrides)  # type: ignore[arg-type]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def server(
    ctx: typer.Context,
    host: str = typer.Option(None, envvar="OBCP_HOST", help="listen address [default: 127.0.0.1]"),
    port: int = typer.Option(None, envvar="OBCP_PORT", help="listen port [default: 8080]"),
    db_url: str = typer.Option(None, envvar="OBCP_DB_URL", help="metadb URL [default: SQLite in OBCP_HOME]"),
    home: Path = typer.Option(None, envvar="OBCP_HOME", help="data directory [default: ./var]"),
    log_level: str = typer.Option("info", envvar="OBCP_LOG_LEVEL"),
    log_format: str = typer.Option("text", envvar="OBCP_LOG_FORMAT", help="text, or json: one object a line"),
    metrics_listen: str = typer.Option(
        None,
        envvar="OBCP_METRICS_LISTEN",
        help="ADDRESS:PORT serving GET /metrics without authentication (loopback only, unless public)",
    ),
    metrics_listen_public: bool = typer.Option(
        False,
        "--metrics-listen-public",
        envvar="OBCP_METRICS_LISTEN_PUBLIC",
        help="allow --metrics-listen on a non-loopback address (a private network's)",
    ),
    tls_cert: Path = typer.Option(
        None, envvar="OBCP_TLS_CERT", help="serve HTTPS with this certificate (PEM)"
    ),
    tls_key: Path = typer.Option(None, envvar="OBCP_TLS_KEY", help="the certificate's private key (PEM)"),
    tls_client_ca: Path = typer.Option(
        None, envvar="OBCP_TLS_CLIENT_CA", help="require client certificates signed by this CA (PEM)"
    ),
    allow_plain_http: bool = typer.Option(
        False,
        "--allow-plain-http",
        envvar="OBCP_ALLOW_PLAIN_HTTP",
        help="allow plain HTTP on a non-loopback address (a trusted network's); warned about",
    ),
) -> None:
    """Run the API server (applies the metadb migrations first). Stops gracefully on SIGTERM.

    `obcp server restart|start|stop CLUSTER_ID SERVER_ID` operates on an OBServer instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(
        home,
        db_url,
        host=host,
        port=port,
        log_level=log_level,
        log_format=log_format,
        metrics_listen=metrics_listen,
        metrics_listen_public=metrics_listen_public or None,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        allow_plain_http=allow_plain_http or None,
    )
    _check_observability(settings)
    _check_listen(settings)
    _serve(settings)


def _serve(settings: Settings) -> None:
    import uvicorn

    from obcp.api.app import create_app
    from obcp.api.transport import uvicorn_tls_options
    from obcp.meta.db import redacted
    from obcp.meta.migrate import upgrade

    settings.home.mkdir(parents=True, exist_ok=True)
    logformat.configure(settings.log_level, settings.log_format)
    url = settings.resolved_db_url()
    typer.echo(f"obcp: metadb {redacted(url)}")
    upgrade(url)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler it found at start:
    # with the default one the process would die of it (exit -15). A graceful stop exits 0.
    signal.signal(signal.SIGTERM, _exit_gracefully)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the handler of `logformat.configure`, whose lines carry the traceId
        timeout_graceful_shutdown=10,
        **uvicorn_tls_options(settings),
    )


def _check_listen(settings: Settings) -> None:
    """Refuse half a TLS set-up, or plain HTTP beyond loopback unless allowed, before binding anything."""
    from obcp.api.transport import check_listen

    try:
        check_listen(settings)
        settings.agent_tls()  # OBCP_AGENT_CA_FILE and the client certificate, read now to name a bad file
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _check_observability(settings: Settings) -> None:
    """Refuse a bad log format or a metrics listener on a public address before anything starts."""
    from obcp.api.auth import read_metrics_token
    from obcp.metrics_listener import checked_address

    try:
        logformat.log_format(settings.log_format)
        if settings.metrics_listen:
            checked_address(settings.metrics_listen, settings.metrics_listen_public)
        read_metrics_token(settings.metrics_token_file)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


# `obcp server` runs the API server, as it always has; OCP's word for an observer is also "server", so
# the OBServer operations are its sub-commands, reached only when one is named.
app.add_typer(server_app, name="server", callback=server, invoke_without_command=True)
server_app.command("install")(server_install)
server_app.command("uninstall")(server_uninstall)


def _exit_gracefully(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@db_app.command("upgrade")
def db_upgrade(
    db_url: str = typer.Option(None, envvar="OBCP_DB_URL", help="metadb URL [default: SQLite in OBCP_HOME]"),
    home: Path = typer.Option(None, envvar="OBCP_HOME", help="data directory [default: ./var]"),
) -> None:
    """Apply the metadb migrations and exit."""
    from obcp.meta.db import redacted
    from obcp.meta.migrate import upgrade

    settings = _settings(home, db_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_db_url()
    upgrade(url)
    typer.echo(f"obcp: metadb {redacted(url)} is at the latest revision")


def main() -> None:
    app()
