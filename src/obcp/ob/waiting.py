"""Bounded polling that says, at least every few seconds, what it is still waiting for."""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from obcp.ob.errors import ObWaitTimeout

LogFn = Callable[[str], None]
# A check returns None when its condition holds, else a short text of what is still missing.
Check = Callable[[], Awaitable[str | None]]

DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_LOG_INTERVAL = 3.0


def no_log(_: str) -> None:
    return None


async def wait_until(
    check: Check,
    *,
    what: str,
    timeout: float,
    log: LogFn = no_log,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    log_interval: float = DEFAULT_LOG_INTERVAL,
) -> float:
    """Poll `check` until it returns None; returns the seconds waited.

    Raises ObWaitTimeout naming `what` and the last thing missing. The first "still waiting" line is
    logged on the first failed poll, so a wait that will be long is visible at once.
    """
    start = time.monotonic()
    deadline = start + timeout
    last_log: float | None = None
    last_missing = ""
    while True:
        missing = await check()
        now = time.monotonic()
        if missing is None:
            return now - start
        changed = missing != last_missing
        last_missing = missing
        if now >= deadline:
            raise ObWaitTimeout(
                f"{what}: not reached within {timeout:g} s; still waiting for: {missing}", missing
            )
        if last_log is None or now - last_log >= log_interval or changed:
            log(f"{what}: waiting ({now - start:.1f}/{timeout:g} s) for: {missing}")
            last_log = now
        await asyncio.sleep(min(poll_interval, max(0.0, deadline - now)))
