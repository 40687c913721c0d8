"""The metadb's clock (`obcp.meta.clock`), which the engine's leases and deadlines are written and compared
with; it lives in meta since the notification sender's leases use it too."""

from obcp.meta.clock import db_now_ms

__all__ = ["db_now_ms"]
