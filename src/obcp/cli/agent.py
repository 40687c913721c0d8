"""`obcp agent`: run the host agent daemon; `obcp agent init-from-obd`: write its config from obd's;
`obcp agent install|uninstall`: its systemd unit."""

from __future__ import annotations

from pathlib import Path

import typer

from obcp.cli.install import agent_install, agent_uninstall

app = typer.Typer(
    help="Run the host agent: a signed-HTTP daemon that starts, stops and reports the observers named in "
    "its config file (see docs/agent.md)."
)


@app.callback(invoke_without_command=True)
def agent(
    ctx: typer.Context,
    # Not required by typer: `obcp agent init-from-obd` runs without it.
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        envvar="OBCP_AGENT_CONFIG",
        exists=True,
        dir_okay=False,
        help="TOML file naming the observers of this host (see docs/agent.md)",
    ),
    listen: str = typer.Option(
        None, "--listen", help="ADDRESS:PORT to listen on, e.g. 127.0.0.2:2886 [default: `listen` in config]"
    ),
    log_level: str = typer.Option("info", "--log-level", envvar="OBCP_LOG_LEVEL"),
    metrics_listen: str = typer.Option(
        None, "--metrics-listen", help="ADDRESS:PORT serving GET /metrics unsigned [default: config's]"
    ),
    metrics_listen_public: bool = typer.Option(
        False, "--metrics-listen-public", help="allow --metrics-listen on a non-loopback address"
    ),
) -> None:
    """Run the host agent: a signed-HTTP daemon that starts, stops and reports the observers named in its
    config. The agent key comes from `key_file` in the config or from OBCP_AGENT_KEY."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        typer.echo("obcp agent: missing option --config (the agent's TOML file)", err=True)
        raise typer.Exit(2)
    from obcp.agent.daemon import run_agent

    try:
        run_agent(config, listen, log_level, metrics_listen, metrics_listen_public)
    except (ValueError, OSError) as exc:
        typer.echo(f"obcp agent: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("init-from-obd")
def init_from_obd(
    obd_config: Path = typer.Argument(..., exists=True, dir_okay=False, help="obd's config.yaml"),
    host: str = typer.Option(..., "--host", help="the IP of this host, as obd's servers list names it"),
    out: Path = typer.Option(Path("agent.toml"), "--out", help="the agent config to write"),
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="the agent key file, created (0600) when missing [default: agent.key beside --out]",
    ),
    start_args: str | None = typer.Option(
        None,
        "--start-args",
        help='arguments after bin/observer, split as a shell would [default: "-p {sql_port}"]',
    ),
) -> None:
    """Write the agent config for the observers obd placed on this host (kind `observer`, their homes and
    ports from obd's config.yaml), and create the agent key file when missing."""
    from obcp.agent.obd_init import ObdConfigError, init_from_obd_config

    try:
        for line in init_from_obd_config(obd_config, host, out, key_file, start_args):
            typer.echo(line)
    except (ObdConfigError, OSError) as exc:
        typer.echo(f"obcp agent init-from-obd: {exc}", err=True)
        raise typer.Exit(2) from None


app.command("install")(agent_install)
app.command("uninstall")(agent_uninstall)


if __name__ == "__main__":
    app()
