"""Settings of the obcp server, read from OBCP_* environment variables (and CLI flags that override them)."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from obcp.agent.tls import agent_client_context


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBCP_", extra="ignore")

    home: Path = Field(
        default=Path("./var"), description="directory for the SQLite metadb and the secret key"
    )
    host: str = "127.0.0.1"
    port: int = 8080
    db_url: str | None = Field(default=None, description="SQLAlchemy URL of the metadb")
    admin_password: str | None = None
    # A server replica's name in task executor columns and lease owners; defaults to host:port.
    server_id: str | None = None
    # Seconds a verified Basic credential stays cached, so a client polling with Basic is not throttled.
    auth_cache_seconds: float = 60.0
    # Seconds an agent call waits for an answer (per attempt; a start or stop waits for the operation
    # itself): a host that accepts connections and never answers fails the step after 3 such waits.
    agent_timeout_seconds: float = Field(default=10.0, gt=0)
    log_level: str = "info"
    secret_key_file: Path | None = None
    # `text` or `json` (one JSON object per line); both carry the traceId of the API call behind a line.
    log_format: str = "text"
    # A file holding the bearer token with which Prometheus reads GET /metrics (read permission only).
    metrics_token_file: Path | None = None
    # ADDRESS:PORT of a second listener that serves only /metrics, without authentication: loopback only,
    # unless metrics_listen_public says that the network it is on is private.
    metrics_listen: str | None = None
    metrics_listen_public: bool = False
    # HTTPS for the API and the console (obcp.api.transport); with tls_client_ca, client certificates from
    # that CA are required. Without TLS the server listens on a loopback address only, unless
    # allow_plain_http says the network in between is trusted.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    allow_plain_http: bool = False
    # Agents that serve HTTPS (their `[tls]`, which `obcp agent install` sets up): with agent_ca_file the
    # server calls every agent over HTTPS, verified against that CA, presenting agent_client_cert/key to
    # agents that require client certificates.
    agent_ca_file: Path | None = None
    agent_client_cert: Path | None = None
    agent_client_key: Path | None = None
    # Days an audit event is kept; every replica prunes older ones every audit_prune_interval_seconds.
    audit_retention_days: int = Field(default=90, ge=1, le=36500)
    audit_prune_interval_seconds: float = Field(default=3600.0, gt=0)

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite+aiosqlite:///{(self.home / 'obcp.db').resolve()}"

    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or self.home / "secret.key"

    def agent_tls(self) -> ssl.SSLContext | None:
        return agent_client_context(self.agent_ca_file, self.agent_client_cert, self.agent_client_key)

    def resolved_server_id(self) -> str:
        return self.server_id or f"{self.host}:{self.port}"
