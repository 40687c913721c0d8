"""The agent's config file (TOML): where it listens, its key, optional TLS, and the observers it runs."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

# seekdb's smallest working settings (memory_budget and log_disk_size are its minimums; datafile_size is
# preallocated, datafile_maxsize bounds its growth): 9 observers fit on 2 cores / 24 GB with them.
DEFAULT_PARAMETERS: dict[str, str] = {
    "memory_budget": "1G",
    "log_disk_size": "2G",
    "datafile_size": "32M",
    "datafile_maxsize": "2G",
}
# seekdb defaults to +08:00 whatever the host's zone is.
DEFAULT_VARIABLES: dict[str, str] = {"time_zone": "+00:00"}

log = logging.getLogger("obcp.agent")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Values end up as argv elements, never in a shell; still, keep them to what seekdb parameters look like.
_VALUE = re.compile(r"^[A-Za-z0-9_.:+\-/%]{1,256}$")
# How obd starts a bootstrapped server "without parameters": everything else is in etc/observer.config.bin.
OBD_START_ARGS: tuple[str, ...] = ("-p", "{sql_port}")
_PLACEHOLDERS = frozenset({"sql_port", "rpc_port"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class SeekdbPackageMissing(RuntimeError):
    """The pylibseekdb package, an extra (`obcp[sandbox]`), is not installed."""

    def __init__(
        self, needed_by: str = "the seekdb kind", advice: str = " (or set `binary` for the observer)"
    ) -> None:
        super().__init__(f"{needed_by} needs the pylibseekdb package: pip install 'obcp[sandbox]'{advice}")


def bundled_seekdb_binary() -> Path:
    """The seekdb server shipped inside the installed `pylibseekdb` wheel (it is not on PATH)."""
    spec = importlib.util.find_spec("pylibseekdb")
    if spec is None or spec.origin is None:
        raise SeekdbPackageMissing()
    return Path(spec.origin).parent / "seekdb"


def _absolute(value: Path, field: str) -> Path:
    if not value.is_absolute():
        raise ValueError(f"{field} must be an absolute path")
    return Path(os.path.normpath(value))


class _ObserverCommon(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sql_port: int = Field(ge=1, le=65535)
    # Seconds a start may take before the agent reports it as not ready.
    start_timeout: float = Field(default=120.0, gt=0)
    # Seconds between SIGTERM and SIGKILL on stop.
    stop_grace: float = Field(default=10.0, gt=0)

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("observer names are 1-64 of A-Z a-z 0-9 _ . - and start with a letter or digit")
        return value


class ObserverConfig(_ObserverCommon):
    """An observer of kind `seekdb`: the pylibseekdb server in a base dir the agent may initialise."""

    kind: Literal["seekdb"] = "seekdb"
    binary: Path | None = None
    base_dir: Path
    log_level: Literal["DEBUG", "TRACE", "INFO", "WARN", "EDIAG", "ERROR"] = "WARN"
    parameters: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PARAMETERS))
    variables: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VARIABLES))

    @field_validator("base_dir")
    @classmethod
    def _base_dir_absolute(cls, value: Path) -> Path:
        return _absolute(value, "base_dir")

    @field_validator("parameters", "variables")
    @classmethod
    def _values_are_plain(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _NAME.match(key) or not _VALUE.match(str(item)):
                raise ValueError(f"invalid setting {key!r}: names and values must be plain tokens")
        return value

    def resolved_binary(self) -> Path:
        return self.binary if self.binary is not None else bundled_seekdb_binary()


class OceanBaseHomeConfig(_ObserverCommon):
    """An observer of kind `observer`: an already bootstrapped OceanBase server in its home (obd's
    layout). The agent starts and stops it and never bootstraps or deploys it."""

    kind: Literal["observer"]
    home_path: Path
    rpc_port: int | None = Field(default=None, ge=1, le=65535)
    # Arguments after bin/observer; `{sql_port}` and `{rpc_port}` are replaced by the ports.
    start_args: list[str] = Field(default_factory=lambda: list(OBD_START_ARGS))

    @field_validator("home_path")
    @classmethod
    def _home_absolute(cls, value: Path) -> Path:
        return _absolute(value, "home_path")

    @model_validator(mode="after")
    def _placeholders_known(self) -> OceanBaseHomeConfig:
        for arg in self.start_args:
            for used in _PLACEHOLDER.findall(arg):
                if used not in _PLACEHOLDERS:
                    raise ValueError(
                        f"start_args: unknown placeholder {{{used}}} (known: sql_port, rpc_port)"
                    )
                if used == "rpc_port" and self.rpc_port is None:
                    raise ValueError("start_args use {rpc_port} but rpc_port is not set")
        return self

    @property
    def base_dir(self) -> Path:
        """The directory the observer runs in (its home), named as for every kind."""
        return self.home_path

    def resolved_binary(self) -> Path:
        return self.home_path / "bin" / "observer"

    def resolved_start_args(self) -> list[str]:
        ports = {"sql_port": str(self.sql_port), "rpc_port": str(self.rpc_port)}
        return [_PLACEHOLDER.sub(lambda m: ports[m.group(1)], arg) for arg in self.start_args]


def _kind_of(value: Any) -> str:
    # Configs written before there were kinds have no `kind`: they are seekdb observers.
    if isinstance(value, dict):
        return str(value.get("kind", "seekdb"))
    return str(getattr(value, "kind", "seekdb"))


AnyObserverConfig = Annotated[
    Annotated[ObserverConfig, Tag("seekdb")] | Annotated[OceanBaseHomeConfig, Tag("observer")],
    Discriminator(_kind_of),
]


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cert_file: Path
    key_file: Path
    # When set, clients must present a certificate signed by this CA (mutual TLS).
    client_ca_file: Path | None = None


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen: str | None = None
    # File holding the agent key; OBCP_AGENT_KEY overrides it. The key never appears in this file.
    key_file: Path | None = None
    tls: TlsConfig | None = None
    # ADDRESS:PORT serving GET /metrics unsigned (for Prometheus): loopback only unless metrics_listen_public.
    metrics_listen: str | None = None
    metrics_listen_public: bool = False
    observers: list[AnyObserverConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> AgentConfig:
        names = [o.name for o in self.observers]
        if len(names) != len(set(names)):
            raise ValueError("observer names must be unique")
        dirs = [o.base_dir for o in self.observers]
        if len(dirs) != len(set(dirs)):
            raise ValueError("observer base dirs and home paths must be unique")
        ports = [o.sql_port for o in self.observers]
        if len(ports) != len(set(ports)):
            raise ValueError("observer SQL ports must be unique (seekdb listens on 0.0.0.0)")
        return self

    def observer(self, name: str) -> ObserverConfig | OceanBaseHomeConfig | None:
        return next((o for o in self.observers if o.name == name), None)


def load_agent_config(path: Path) -> AgentConfig:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    config = AgentConfig.model_validate(raw)
    # Relative paths in the file are relative to the file, not to wherever the agent was started.
    base = path.resolve().parent
    if config.key_file is not None and not config.key_file.is_absolute():
        config.key_file = base / config.key_file
    if config.tls is not None:
        for attr in ("cert_file", "key_file", "client_ca_file"):
            value = getattr(config.tls, attr)
            if value is not None and not value.is_absolute():
                setattr(config.tls, attr, base / value)
    return config


def read_agent_key(config: AgentConfig) -> bytes:
    env = os.environ.get("OBCP_AGENT_KEY")
    if env:
        return env.encode()
    if config.key_file is None:
        raise ValueError("no agent key: set key_file in the config or OBCP_AGENT_KEY")
    if config.key_file.stat().st_mode & 0o077:
        log.warning("the agent key file %s is readable by other users; chmod 600 it", config.key_file)
    key = config.key_file.read_text().strip()
    if len(key) < 16:
        raise ValueError(f"the agent key in {config.key_file} is shorter than 16 characters")
    return key.encode()
