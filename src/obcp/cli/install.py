"""`obcp agent install|uninstall` and `obcp server install|uninstall`: systemd units (docs/install.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from obcp.install.unit_file import UNIT_DIR, ServiceUnit, render_unit
from obcp.install.users import InstallError

if TYPE_CHECKING:
    from obcp.agent.config import AgentConfig

UNIT_DIR_OPTION = typer.Option(UNIT_DIR, "--unit-dir", help="where the unit file goes")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="print the unit instead of writing it")


def _fail(command: str, exc: Exception) -> typer.Exit:
    typer.echo(f"obcp {command}: {exc}", err=True)
    return typer.Exit(2)


def _warn_root(command: str, user: str) -> None:
    if user == "root":
        typer.echo(f"obcp {command}: the unit runs as root, which it does not need; pass --user", err=True)


def _written(unit: ServiceUnit, path: Path) -> None:
    from obcp.install.unit_install import enable_commands

    typer.echo(f"wrote {path}; to enable and start it:")
    for command in enable_commands(unit):
        typer.echo(f"  {command}")


def agent_install(
    config: Path = typer.Option(
        ..., "--config", "-c", exists=True, dir_okay=False, help="the agent's TOML file (see docs/agent.md)"
    ),
    user: str | None = typer.Option(
        None, "--user", help="run the agent as USER [default: the owner of the observers' homes, else you]"
    ),
    unit_dir: Path = UNIT_DIR_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
    no_tls: bool = typer.Option(
        False, "--no-tls", help="install an agent on plain HTTP (its calls stay signed, not secret)"
    ),
) -> None:
    """Write the systemd unit obcp-agent.service that runs this agent as the observers' owner. The agent
    serves HTTPS: without certificate files in its [tls], the install stops and prints how to make them."""
    from obcp.agent.config import load_agent_config
    from obcp.install.agent_unit import agent_unit, agent_user
    from obcp.install.entry_point import obcp_command
    from obcp.install.unit_install import write_unit
    from obcp.install.users import check_user

    try:
        config = config.resolve()
        agent_config = load_agent_config(config)
        run_as = agent_user(agent_config, user)
        check_user(run_as)
        _check_agent_tls(agent_config, config, run_as, no_tls)
        unit = agent_unit(obcp_command(), config, agent_config, run_as)
        _warn_root("agent install", run_as)
        if dry_run:
            typer.echo(render_unit(unit), nl=False)
            return
        _written(unit, write_unit(unit, unit_dir))
    except (InstallError, ValueError, OSError) as exc:
        raise _fail("agent install", exc) from None


def _check_agent_tls(config: AgentConfig, path: Path, user: str, no_tls: bool) -> None:
    from obcp.install.agent_tls import instructions, problems

    found = problems(config)
    if not found:
        assert config.tls is not None
        mutual = config.tls.client_ca_file is not None
        typer.echo(
            "obcp agent install: the agent serves HTTPS"
            + (" and requires client certificates (mutual TLS)" if mutual else " (no client certificate)"),
            err=True,
        )
        return
    if no_tls:
        typer.echo(
            "obcp agent install: WARNING: --no-tls: the agent serves plain HTTP; its calls are signed but "
            "readable on the network, root passwords included",
            err=True,
        )
        return
    typer.echo(f"obcp agent install: {'; '.join(found)}", err=True)
    typer.echo(instructions(config, path, user), err=True)
    raise typer.Exit(2)


def agent_uninstall(unit_dir: Path = UNIT_DIR_OPTION) -> None:
    """Remove obcp-agent.service (disable it first); the observers keep running."""
    from obcp.install.agent_unit import AGENT_UNIT
    from obcp.install.unit_install import remove_unit

    try:
        path = remove_unit(AGENT_UNIT, unit_dir)
    except (InstallError, OSError) as exc:
        raise _fail("agent uninstall", exc) from None
    typer.echo(f"removed {path}; then: systemctl daemon-reload")


def server_install(
    user: str | None = typer.Option(
        None, "--user", help="run the server as USER [default: the owner of --home, else you]"
    ),
    home: Path = typer.Option(
        Path("/var/lib/obcp"), "--home", envvar="OBCP_HOME", help="the data directory, created if missing"
    ),
    host: str = typer.Option(None, "--host", envvar="OBCP_HOST", help="listen address [default: 127.0.0.1]"),
    port: int = typer.Option(None, "--port", envvar="OBCP_PORT", help="listen port [default: 8080]"),
    db_url: str = typer.Option(None, "--db-url", envvar="OBCP_DB_URL", help="metadb URL [default: SQLite]"),
    env_file: Path = typer.Option(
        Path("/etc/obcp/server.env"), "--env-file", help="the OBCP_* settings file (0600) the unit reads"
    ),
    unit_dir: Path = UNIT_DIR_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Write the systemd unit obcp-server.service and its environment file of OBCP_* settings (the
    options given, and the OBCP_* variables set now); secrets go only in that 0600 file."""
    from obcp.api.transport import check_listen
    from obcp.config import Settings
    from obcp.install.entry_point import obcp_command
    from obcp.install.server_unit import env_settings, render_env_file, server_unit
    from obcp.install.users import check_user, default_user

    overrides = {k: v for k, v in {"host": host, "port": port, "db_url": db_url}.items() if v is not None}
    try:
        settings = Settings(home=home, **overrides)  # type: ignore[arg-type]
        check_listen(settings)  # a unit whose server would refuse to start is not written
        env_file = Path(env_file).resolve()
        run_as = user if user is not None else default_user([settings.home.resolve()])
        check_user(run_as)
        unit = server_unit(obcp_command(), settings, env_file, run_as)
        values = env_settings(settings)
        _warn_root("server install", run_as)
        if dry_run:
            typer.echo(render_unit(unit), nl=False)
            typer.echo(f"obcp server install: and {env_file} (0600) with {', '.join(values)}", err=True)
            return
        _write_server(unit, settings.home.resolve(), env_file, render_env_file(values), unit_dir)
    except (InstallError, ValueError, OSError) as exc:
        raise _fail("server install", exc) from None


def _write_server(unit: ServiceUnit, home: Path, env_file: Path, env_text: str, unit_dir: Path) -> None:
    from obcp.install.server_unit import STATE_HOME
    from obcp.install.unit_install import make_owned_dir, write_secret_file, write_unit
    from obcp.install.users import owner_of

    write_secret_file(env_file, env_text)
    typer.echo(f"wrote {env_file} (0600)")
    if home != STATE_HOME:
        # systemd creates its StateDirectory itself; any other home must exist for ReadWritePaths=.
        make_owned_dir(home, unit.user)
        if (owner := owner_of(home)) != unit.user:
            typer.echo(
                f"obcp server install: {home} is owned by {owner}, the server runs as {unit.user}", err=True
            )
    _written(unit, write_unit(unit, unit_dir))


def server_uninstall(unit_dir: Path = UNIT_DIR_OPTION) -> None:
    """Remove obcp-server.service (disable it first); its environment file and home are kept."""
    from obcp.install.server_unit import SERVER_UNIT
    from obcp.install.unit_install import remove_unit

    try:
        path = remove_unit(SERVER_UNIT, unit_dir)
    except (InstallError, OSError) as exc:
        raise _fail("server uninstall", exc) from None
    typer.echo(f"removed {path}; then: systemctl daemon-reload (the env file and the home are kept)")
