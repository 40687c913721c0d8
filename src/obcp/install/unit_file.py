"""A systemd service unit as data, and its text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

UNIT_DIR = Path("/etc/systemd/system")


@dataclass(frozen=True)
class ServiceUnit:
    name: str
    description: str
    exec_start: list[str]
    user: str
    # Directives of [Service] after the common ones, in order.
    service: list[tuple[str, str]] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return f"{self.name}.service"


def quote_arg(arg: str) -> str:
    """One ExecStart argument as systemd reads it: quoted when it holds a space, a quote or a backslash,
    and with `%` and `$` escaped so that systemd expands neither specifiers nor variables in it."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if any(c in escaped for c in " \t\"'\\") or not escaped:
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def quote_path(path: Path, prefix: str = "") -> str:
    """A path in a list-valued directive (ReadWritePaths=): quoted when it holds whitespace or a quote,
    `%` escaped so that systemd expands no specifier in it."""
    value = prefix + str(path).replace("%", "%%")
    if any(c in value for c in " \t\"'\\"):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def render_unit(unit: ServiceUnit) -> str:
    lines = [
        "[Unit]",
        f"Description={unit.description}",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=exec",
        f"User={unit.user}",
        f"ExecStart={' '.join(quote_arg(a) for a in unit.exec_start)}",
        "Restart=on-failure",
        "RestartSec=5",
        *(f"{key}={value}" for key, value in unit.service),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)
