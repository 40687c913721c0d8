"""What a sandbox is made of, kept in `<dir>/sandbox.json`; its secrets in `<dir>/secrets.json` (0600)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field

STATE_FILE = "sandbox.json"
SECRETS_FILE = "secrets.json"
HOSTS_DIR = "hosts"
FIRST_HOST_OCTET = 2


def default_sandbox_dir() -> Path:
    return Path(os.environ.get("OBCP_HOME", "./var")) / "sandbox"


class SandboxServer(BaseModel):
    zone: str
    observer_name: str
    address: str
    agent_port: int
    sql_port: int
    rpc_port: int = 2882
    base_dir: str
    agent_pid: int | None = None
    agent_create_time: float | None = None
    host_id: int | None = None

    def host_dir(self, root: Path) -> Path:
        return root / HOSTS_DIR / self.address


class SandboxState(BaseModel):
    version: int = 1
    cluster_name: str
    zones: int
    servers_per_zone: int
    cluster_id: int | None = None
    server_url: str | None = None
    servers: list[SandboxServer] = Field(default_factory=list)


class SandboxSecrets(BaseModel):
    root_password: str
    agent_keys: dict[str, str] = Field(default_factory=dict)

    def agent_key(self, address: str) -> str:
        if address not in self.agent_keys:
            self.agent_keys[address] = secrets.token_urlsafe(32)
        return self.agent_keys[address]


def host_address(index: int) -> str:
    """127.0.0.2, 127.0.0.3, … (127.0.0.1 stays for the server and clients)."""
    octet = FIRST_HOST_OCTET + index
    if octet > 254:
        raise ValueError("a sandbox holds at most 253 servers")
    return f"127.0.0.{octet}"


def load_state(root: Path) -> SandboxState | None:
    path = root / STATE_FILE
    if not path.exists():
        return None
    return SandboxState.model_validate_json(path.read_text())


def save_state(root: Path, state: SandboxState) -> None:
    path = root / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=2) + "\n")
    tmp.replace(path)


def load_secrets(root: Path) -> SandboxSecrets:
    path = root / SECRETS_FILE
    if path.exists():
        return SandboxSecrets.model_validate_json(path.read_text())
    # Letters, digits and one symbol: accepted by OceanBase and safe in any client's command line.
    return SandboxSecrets(root_password="Sbx_" + secrets.token_hex(10))


def save_secrets(root: Path, values: SandboxSecrets) -> None:
    path = root / SECRETS_FILE
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values.model_dump(), f, indent=2)
    path.with_suffix(".tmp").replace(path)


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
