"""The sender's tunables, from OBCP_NOTIFY_* environment variables (docs/api.md, "Notification channels")."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBCP_NOTIFY_", extra="ignore")

    # One attempt's bound: connecting, sending and reading the answer together.
    timeout_seconds: float = Field(5.0, gt=0, le=120)
    # The first retry waits this long, each next one twice as long, up to backoff_max_seconds.
    backoff_seconds: float = Field(2.0, gt=0)
    backoff_max_seconds: float = Field(300.0, gt=0)
    # A delivery is marked FAILED after this many attempts, or when its next attempt would start more than
    # retry_seconds after the event, whichever comes first.
    max_attempts: int = Field(10, ge=1, le=100)
    retry_seconds: float = Field(3600.0, gt=0)
    # How often a replica looks for due deliveries (it is also woken when its own engine settles a task).
    poll_seconds: float = Field(1.0, gt=0)
    # Attempts in flight at once per replica: a receiver that hangs holds one slot for timeout_seconds.
    concurrency: int = Field(16, ge=1, le=256)

    @property
    def lease_ms(self) -> int:
        """How long a claimed attempt is this replica's: its timeout and a margin for recording it."""
        return int((self.timeout_seconds + 10) * 1000)

    def backoff_ms(self, attempts: int) -> int:
        """The wait after the `attempts`-th failed attempt."""
        return int(min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds) * 1000)
