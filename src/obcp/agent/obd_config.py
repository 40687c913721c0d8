"""From an obd deployment to an agent config: the observers obd's `config.yaml` places on one host.

obd's file has a component (`oceanbase-ce` or `oceanbase`) with `servers` (`{name, ip}` entries or bare
IPs, a bare IP being its own name), `global` settings and one section per server name overriding them
(`zone` is always per server). The agent needs, per observer on the host: its name, `home_path`,
`mysql_port` (the SQL port) and `rpc_port`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COMPONENTS = ("oceanbase-ce", "oceanbase")
# obd's defaults when a file leaves the ports out.
OBD_MYSQL_PORT = 2881
OBD_RPC_PORT = 2882


class ObdConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ObdServer:
    name: str
    ip: str
    home_path: str
    mysql_port: int
    rpc_port: int
    zone: str | None


def load_obd_servers(path: Path) -> list[ObdServer]:
    component = _component(path)
    settings = component.get("global") or {}
    return [_server(path, entry, settings, component) for entry in component["servers"]]


def load_obd_global(path: Path) -> dict[str, Any]:
    """The component's `global` section (`appname`, `cluster_id`, `root_password`, ...)."""
    settings = _component(path).get("global") or {}
    if not isinstance(settings, dict):
        raise ObdConfigError(f"{path}: the global section is not a mapping")
    return settings


def _component(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ObdConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ObdConfigError(f"{path} is not an obd config (no components at its top level)")
    present = [c for c in COMPONENTS if c in document]
    if not present:
        raise ObdConfigError(f"{path} has no {' or '.join(COMPONENTS)} component")
    component = document[present[0]]
    if not isinstance(component, dict) or not isinstance(component.get("servers"), list):
        raise ObdConfigError(f"{path}: {present[0]} has no servers list")
    return component


def _server(path: Path, entry: Any, settings: dict[str, Any], component: dict[str, Any]) -> ObdServer:
    if isinstance(entry, dict):
        name, ip = str(entry.get("name") or entry.get("ip")), str(entry.get("ip"))
    else:
        name = ip = str(entry)
    merged = {**settings, **(component.get(name) or {})}
    home = merged.get("home_path")
    if not home:
        raise ObdConfigError(
            f"{path}: server {name} has no home_path (neither in global nor its own section)"
        )
    return ObdServer(
        name=name,
        ip=ip,
        home_path=str(home),
        mysql_port=int(merged.get("mysql_port", OBD_MYSQL_PORT)),
        rpc_port=int(merged.get("rpc_port", OBD_RPC_PORT)),
        zone=str(merged["zone"]) if merged.get("zone") else None,
    )


def servers_on_host(servers: list[ObdServer], host: str, source: Path) -> list[ObdServer]:
    mine = [s for s in servers if s.ip == host]
    if not mine:
        known = ", ".join(sorted({s.ip for s in servers})) or "none"
        raise ObdConfigError(f"{source} places no observer on host {host} (its hosts: {known})")
    return mine


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def agent_toml(servers: list[ObdServer], key_file: Path, source: Path, start_args: list[str] | None) -> str:
    lines = [
        f"# The observers obd's {source} places on {servers[0].ip}, written by `obcp agent init-from-obd`.",
        "# The agent runs as the user that owns these homes. Set `listen` (or pass --listen).",
        f"key_file = {_toml_string(str(key_file))}",
    ]
    for server in servers:
        lines += [
            "",
            "[[observers]]",
            f"name = {_toml_string(server.name)}" + (f"  # zone {server.zone}" if server.zone else ""),
            'kind = "observer"',
            f"home_path = {_toml_string(server.home_path)}",
            f"sql_port = {server.mysql_port}",
            f"rpc_port = {server.rpc_port}",
        ]
        if start_args is not None:
            lines.append("start_args = [" + ", ".join(_toml_string(a) for a in start_args) + "]")
    return "\n".join(lines) + "\n"


def ensure_key_file(path: Path) -> bool:
    """Creates the agent key file (0600, a fresh random key) unless it exists; True if created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return True
