"""`obcp agent`: run the host agent daemon."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Run the host agent: a signed-HTTP daemon that starts, stops and reports the observers named in "
    "its config file (see docs/agent.md)."
)


@app.callback(invoke_without_command=True)
def agent(
    config: Path = typer.Option(
        ...,
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
) -> None:
    """Run the host agent: a signed-HTTP daemon that starts, stops and reports the observers named in its
    config. The agent key comes from `key_file` in the config or from OBCP_AGENT_KEY."""
    from obcp.agent.daemon import run_agent

    try:
        run_agent(config, listen, log_level)
    except (ValueError, OSError) as exc:
        typer.echo(f"obcp agent: {exc}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    app()
