"""What one replica has seen of the metadb lately: whether it is reachable, and since when.

While the metadb is down nobody can extend a lease, so when it comes back every lease looks expired. A
replica that saw the outage therefore waits one lease period after its last failure before it takes any
run away from its owner, which leaves the owners the time to renew their leases (their heartbeat is
due at once). A replica cut off alone is not excused: the others saw no outage and take its runs over.
"""

from __future__ import annotations

import logging
import time

from obcp.meta.db import metadb_unreachable

log = logging.getLogger("obcp.engine")


class MetadbHealth:
    def __init__(self) -> None:
        self.down_since: float | None = None
        self.last_failure: float | None = None  # time.monotonic() of the last failed metadb call

    def failed(self, what: str, exc: BaseException) -> None:
        """Log a failed metadb call: one warning per outage, a traceback for anything else."""
        if not metadb_unreachable(exc):
            log.error("%s failed", what, exc_info=exc)
            return
        self.last_failure = time.monotonic()
        if self.down_since is None:
            self.down_since = self.last_failure
            log.warning("the metadb is unreachable (%s: %s); waiting for it", what, type(exc).__name__)

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning("the metadb is back after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None

    def steady_for(self, seconds: float) -> bool:
        """True when no metadb call of this replica has failed for `seconds`."""
        return self.last_failure is None or time.monotonic() - self.last_failure >= seconds
