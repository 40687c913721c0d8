"""`obcp agent init-from-obd`: obd's config.yaml in, the agent's TOML (validated) and key file out."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

from pydantic import ValidationError

from obcp.agent.config import AgentConfig
from obcp.agent.obd_config import (
    ObdConfigError,
    agent_toml,
    ensure_key_file,
    load_obd_servers,
    servers_on_host,
)

__all__ = ["ObdConfigError", "init_from_obd_config"]


def init_from_obd_config(
    obd_config: Path, host: str, out: Path, key_file: Path | None, start_args: str | None
) -> list[str]:
    """Writes `out` (and the key file when missing); returns what was done, line by line."""
    servers = servers_on_host(load_obd_servers(obd_config), host, obd_config)
    key_path = (key_file or out.parent / "agent.key").absolute()
    args = shlex.split(start_args) if start_args is not None else None
    text = agent_toml(servers, key_path, obd_config.absolute(), args)
    try:
        # The file must be one the agent accepts, or it is not written.
        AgentConfig.model_validate(tomllib.loads(text))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ObdConfigError(f"the agent config made from {obd_config} is invalid: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    done = [f"wrote {out}: {len(servers)} observer(s) on {host}: " + ", ".join(s.name for s in servers)]
    if ensure_key_file(key_path):
        done.append(f"created the agent key file {key_path} (0600); the server needs the same key")
    else:
        done.append(f"kept the existing agent key file {key_path}")
    return done
