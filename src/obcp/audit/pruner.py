"""The periodic pruning of audit events past the retention, on every replica: a DELETE of what is older than
the cutoff, so two replicas pruning at once, or one pruning twice, delete each event once."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from obcp.audit.store import prune
from obcp.meta.db import Database

log = logging.getLogger("obcp.audit")


class AuditPruner:
    def __init__(self, db: Database, retention_days: int, interval_seconds: float) -> None:
        self.db = db
        self.retention_days = retention_days
        self.interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="obcp-audit-pruner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self.prune_once()
            await asyncio.sleep(self.interval)

    async def prune_once(self) -> int:
        try:
            deleted = await prune(self.db, self.retention_days)
        except Exception as exc:  # the metadb away: the next round prunes what this one could not
            log.warning("audit events not pruned this time: %s", type(exc).__name__)
            return 0
        if deleted:
            log.info("pruned %d audit events older than %d days", deleted, self.retention_days)
        return deleted
