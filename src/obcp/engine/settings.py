"""The engine's tunables, from OBCP_ENGINE_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    """Tunables, from OBCP_ENGINE_* variables."""

    model_config = SettingsConfigDict(env_prefix="OBCP_ENGINE_", extra="ignore")

    # A dead replica's runs are taken over between lease - heartbeat and lease + sweep seconds after its
    # death (about 2 s); a heartbeat is one UPDATE per replica, whatever the number of its runs.
    lease_seconds: float = 2.0
    heartbeat_seconds: float = 0.5
    sweep_seconds: float = 0.5
    log_flush_seconds: float = 0.5
    max_running: int = 64
    timeout_grace_seconds: float = 10.0
    # Modules whose subtask classes this replica can run, comma-separated (in addition to the built-ins);
    # tests list theirs here, e.g. `obcp.engine.testing`.
    modules: str = ""
