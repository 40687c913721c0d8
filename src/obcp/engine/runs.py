"""One run of a subtask on this replica: what the scheduler keeps of it while it runs, and what its end
means for the store."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from obcp.engine import logs, store
from obcp.meta.db import metadb_unreachable, now_ms


@dataclass
class Run:
    claimed: store.Claimed
    runlog: logs.RunLog
    outer: asyncio.Task[None] | None = None
    inner: asyncio.Task[None] | None = None
    reason: str | None = None  # why it was interrupted: "cancel", "lost", "shutdown"
    finishing: bool = False  # its result is being recorded: live-log flushes leave it alone


def outcome_of(run: Run, logger: logging.Logger) -> store.Outcome:
    """What the run's end means: a timeout, an operator's cancel, an interruption, a failure or success."""
    c = run.claimed
    assert run.inner is not None
    if run.reason == "timeout":
        logger.error(
            "Receive timeout callback, subtask %s elapsed=%ss, timeout=%ss",
            c.id,
            (now_ms() - c.started_at) // 1000,
            c.timeout,
        )
        return store.Outcome(False, f"timeout after {c.timeout}s")
    if run.reason == "cancel":
        logger.warning("Subtask %s cancelled by an operator", c.id)
        return store.Outcome(False, "cancelled", canceled=True)
    if run.reason in ("lost", "shutdown") or run.inner.cancelled():
        return store.Outcome(False, "interrupted")
    if (exc := run.inner.exception()) is not None:
        trace = "".join(traceback.format_exception(exc)).rstrip()
        logger.error("Subtask %s failed: %s\n%s", c.id, exc, trace)
        return store.Outcome(False, f"{type(exc).__name__}: {exc}")
    return store.Outcome(True, context=c.context)


async def patient_with_metadb(
    body: Callable[[], Coroutine[Any, Any, None]], logger: logging.Logger, max_delay: float = 5.0
) -> None:
    """Runs a step that is safe to repeat (`continue_after_crash`) again when its own metadb access found
    the metadb away or too busy to lend a connection in time (a pool timeout, SQLite's "database is
    locked"), instead of failing the task: at fleet scale (bench/fleet, 100 restarts at once) hundreds of
    steps failed that way. The step's timeout still bounds the whole."""
    delay = 0.5
    while True:
        try:
            await body()
            return
        except SQLAlchemyError as exc:
            if not metadb_unreachable(exc):
                raise
            logger.warning("the metadb did not serve this step (%s); running it again in %.1f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def noop() -> None:
    return None
