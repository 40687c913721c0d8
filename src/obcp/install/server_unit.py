"""The unit of `obcp server install` and its environment file: the OBCP_* settings, secrets included
(a metadb URL may hold a password), in a 0600 file the unit names, never in the unit itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from obcp.config import Settings
from obcp.install.unit_file import ServiceUnit, quote_path

SERVER_UNIT = "obcp-server"
STATE_HOME = Path("/var/lib/obcp")
ENV_FILE = Path("/etc/obcp/server.env")

# The server needs its home (and a SQLite metadb's directory) writable, the network, and nothing else.
SERVER_HARDENING: list[tuple[str, str]] = [
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "read-only"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictNamespaces", "yes"),
    ("LockPersonality", "yes"),
    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
]


def env_settings(settings: Settings) -> dict[str, str]:
    """The OBCP_* variables of the settings given (options or environment), OBCP_HOME always, absolute:
    a service's working directory is /, where the default ./var is no place for a metadb."""
    values: dict[str, str] = {"OBCP_HOME": str(settings.home.resolve())}
    for name in sorted(settings.model_fields_set - {"home"}):
        value = getattr(settings, name)
        if value is not None:
            values[f"OBCP_{name.upper()}"] = str(value.resolve() if isinstance(value, Path) else value)
    return values


def render_env_file(values: dict[str, str]) -> str:
    lines = ["# OBCP_* settings of the obcp server (systemd EnvironmentFile); may hold secrets: keep 0600."]
    for key, value in values.items():
        escaped = "".join("\\" + c if c in '\\"$`' else c for c in value)
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


def writable_dirs(settings: Settings) -> list[Path]:
    """The home, and a SQLite metadb's directory when it lies outside the home."""
    home = settings.home.resolve()
    dirs = [home]
    if settings.db_url:
        try:
            url = make_url(settings.db_url)
        except ArgumentError:
            return dirs
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            db_dir = Path(url.database).resolve().parent
            if not db_dir.is_relative_to(home):
                dirs.append(db_dir)
    return dirs


def server_unit(obcp: Path, settings: Settings, env_file: Path, user: str) -> ServiceUnit:
    home = settings.home.resolve()
    service: list[tuple[str, str]] = [("EnvironmentFile", str(env_file).replace("%", "%%"))]
    if home == STATE_HOME:
        # systemd creates /var/lib/obcp owned by the service's user.
        service += [("StateDirectory", "obcp"), ("StateDirectoryMode", "0700")]
    service += [("ReadWritePaths", quote_path(d)) for d in writable_dirs(settings) if d != STATE_HOME]
    service += [("TimeoutStopSec", "30"), *SERVER_HARDENING]
    return ServiceUnit(
        name=SERVER_UNIT,
        description="obcp server (the OCP-compatible API and web console)",
        exec_start=[str(obcp), "server"],
        user=user,
        service=service,
    )
