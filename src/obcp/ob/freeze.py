"""Minor freeze of one observer before it stops, so that its restart does not replay a full memtable's redo.

`ALTER SYSTEM MINOR FREEZE` freezes the active memtables; the freeze has finished when every memtable
that was there before it is gone, because each frozen one is dumped to a MINI sstable and then released.
`V$OB_SSTABLES` shows that on seekdb (measured: the MEMTABLE rows turn IS_ACTIVE = 'NO', 1-5 s later they
are gone and as many MINI rows are there); `GV$OB_SSTABLES` (with SVR_IP/SVR_PORT) on a
distributed 4.x cluster, where `ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = ('ip:port')` freezes every
tenant of that one server.

A dumped memtable is not yet a restart without replay: the observer replays its redo from the log stream's
checkpoint, and seekdb moves that checkpoint past the dumped data some seconds after the dump (measured:
`__all_virtual_ls_info.checkpoint_scn` passed the `END_SCN` of `V$OB_LOG_STAT` read before the freeze
4.8-5.0 s after the memtables were gone; a restart in that window replayed the whole redo). So the freeze
then waits, bounded, until every log stream's checkpoint is at or past the end of its log as it was just
before the freeze; past that bound, or where the checkpoint is not visible, it says so and the stop goes on.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from obcp.ob.capability import ObCapability
from obcp.ob.errors import ObSqlError, ObWaitTimeout
from obcp.ob.executor import SqlExecutor
from obcp.ob.topology import ServerAddr
from obcp.ob.waiting import LogFn, no_log, wait_until

FREEZE_SQL = "ALTER SYSTEM MINOR FREEZE"
FREEZE_SERVER_SQL = "ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = (%s)"
MEMTABLES_SQL = (
    "SELECT TABLET_ID, START_LOG_SCN, IS_ACTIVE, SIZE FROM oceanbase.V$OB_SSTABLES "
    "WHERE TABLE_TYPE = 'MEMTABLE'"
)
MEMTABLES_ON_SERVER_SQL = (
    "SELECT TENANT_ID, LS_ID, TABLET_ID, START_LOG_SCN, IS_ACTIVE, SIZE FROM oceanbase.GV$OB_SSTABLES "
    "WHERE SVR_IP = %s AND SVR_PORT = %s AND TABLE_TYPE = 'MEMTABLE'"
)
LOG_END_SQL = "SELECT END_SCN FROM oceanbase.V$OB_LOG_STAT"
LOG_END_ON_SERVER_SQL = (
    "SELECT TENANT_ID, LS_ID, END_SCN FROM oceanbase.GV$OB_LOG_STAT WHERE SVR_IP = %s AND SVR_PORT = %s"
)
CHECKPOINT_SQL = "SELECT checkpoint_scn AS CHECKPOINT_SCN FROM oceanbase.__all_virtual_ls_info"
CHECKPOINT_ON_SERVER_SQL = (
    "SELECT tenant_id AS TENANT_ID, ls_id AS LS_ID, checkpoint_scn AS CHECKPOINT_SCN "
    "FROM oceanbase.__all_virtual_ls_info WHERE svr_ip = %s AND svr_port = %s"
)
DEFAULT_FREEZE_TIMEOUT = 300.0
# Longer than seekdb's measured lag (about 5 s) with room for a loaded machine; past it, the restart may
# replay part of the redo, which costs time but loses nothing, so it is no reason to fail the stop.
DEFAULT_CHECKPOINT_TIMEOUT = 30.0
# Below this much memtable data the checkpoint is not waited for: its replay costs less than the wait
# (measured on seekdb: ~2.1 s more for a restart with 118 MB of memtables, ~50 MB/s; a fresh server
# holds ~18 MB of its own tablets' memtables, and the checkpoint lags the dump by ~5 s).
CHECKPOINT_WAIT_MIN_BYTES = 32 * 1024 * 1024
# seekdb ignores a freeze in its first seconds after a start (measured: it took effect 7-8 s after a
# restart, and not within 20 s of the first start of a new base dir, while 25 s after that start the same
# statement froze and dumped everything in 5 s), so it is sent again while nothing has been frozen yet.
RESEND_INTERVAL = 2.0
# "Table doesn't exist" (a kernel without the view) and "not supported".
NO_SUCH_VIEW = (1146, 1235)


@dataclass(frozen=True)
class FreezeResult:
    seconds: float
    memtables: int
    message: str
    # Seconds from the dump until every log stream's checkpoint passed the freeze point; None when it was
    # not seen (no such view, or not within the bound: the message says which).
    checkpoint_seconds: float | None = None


async def log_ends(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> dict[tuple[str, ...], int]:
    """The end SCN of each log stream on `server`, by (tenant, log stream); seekdb names no log stream, and
    its rows are taken together under one key."""
    if capability.distributed:
        rows = await ex.query(LOG_END_ON_SERVER_SQL, (server.ip, server.rpc_port))
    else:
        rows = await ex.query(LOG_END_SQL)
    return _by_log_stream(rows, "END_SCN", max)


async def checkpoints(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> dict[tuple[str, ...], int]:
    """The checkpoint SCN of each log stream on `server`, keyed as `log_ends`."""
    if capability.distributed:
        rows = await ex.query(CHECKPOINT_ON_SERVER_SQL, (server.ip, server.rpc_port))
    else:
        rows = await ex.query(CHECKPOINT_SQL)
    return _by_log_stream(rows, "CHECKPOINT_SCN", min)


def _by_log_stream(
    rows: list[dict[str, Any]], column: str, combine: Callable[[int, int], int]
) -> dict[tuple[str, ...], int]:
    out: dict[tuple[str, ...], int] = {}
    for r in rows:
        key = (str(r.get("TENANT_ID", "")), str(r.get("LS_ID", "")))
        value = int(r[column] or 0)
        out[key] = combine(out[key], value) if key in out else value
    return out


async def memtables(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> dict[tuple[str, ...], bool]:
    """The memtables on `server`, each as (tenant, log stream, tablet, start SCN) -> still active."""
    rows = await _memtable_rows(ex, capability, server)
    keys = ("TENANT_ID", "LS_ID", "TABLET_ID", "START_LOG_SCN")
    return {tuple(str(r.get(k, "")) for k in keys): str(r["IS_ACTIVE"]).upper() == "YES" for r in rows}


async def memtable_bytes(ex: SqlExecutor, capability: ObCapability, server: ServerAddr) -> int:
    return sum(int(r.get("SIZE") or 0) for r in await _memtable_rows(ex, capability, server))


async def _memtable_rows(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> list[dict[str, Any]]:
    if capability.distributed:
        return await ex.query(MEMTABLES_ON_SERVER_SQL, (server.ip, server.rpc_port))
    return await ex.query(MEMTABLES_SQL)


async def minor_freeze(
    ex: SqlExecutor,
    capability: ObCapability,
    server: ServerAddr,
    *,
    timeout: float = DEFAULT_FREEZE_TIMEOUT,
    log: LogFn = no_log,
    poll_interval: float = 0.5,
    checkpoint_timeout: float = DEFAULT_CHECKPOINT_TIMEOUT,
    checkpoint_min_bytes: int = CHECKPOINT_WAIT_MIN_BYTES,
) -> FreezeResult:
    """Freeze `server`'s memtables and wait until every memtable it had before is dumped (no longer a
    MEMTABLE row: a fresh active one has another start SCN; right after the statement the old ones may
    not even show as frozen yet, so "no frozen memtable" alone proves nothing). `ex` is a session on that
    server (standalone) or on any server of the cluster (distributed). Raises ObSqlError when the
    statement fails, ObWaitTimeout when the dump does not finish within `timeout`; then waits up to
    `checkpoint_timeout` for the log streams' checkpoint when the memtables held `checkpoint_min_bytes`
    or more (see the module's note)."""
    before = set(await memtables(ex, capability, server))
    size = await memtable_bytes(ex, capability, server)
    freeze_point = await _log_ends_or_none(ex, capability, server) if size >= checkpoint_min_bytes else {}
    sent = [await _freeze(ex, capability, server)]

    async def dumped() -> str | None:
        now = await memtables(ex, capability, server)
        left = [key for key in before if key in now]
        if not left:
            return None
        if all(now[key] for key in left) and time.monotonic() - sent[-1] >= RESEND_INTERVAL:
            log(f"{ex.address}: no memtable of {server} frozen yet: freeze sent again")
            sent.append(await _freeze(ex, capability, server))
        return f"{len(left)} of {len(before)} memtable(s) of {server} to be dumped"

    waited = await wait_until(
        dumped, what=f"{ex.address}: minor freeze of {server}", timeout=timeout, log=log,
        poll_interval=poll_interval,
    )  # fmt: skip
    times = f", freeze sent {len(sent)} times" if len(sent) > 1 else ""
    message = f"minor freeze of {server} finished in {waited:.1f} s ({len(before)} memtable(s) dumped{times})"
    ckpt, note = await _wait_checkpoint(
        ex, capability, server, freeze_point, timeout=checkpoint_timeout, log=log, poll_interval=poll_interval
    )
    return FreezeResult(waited, len(before), f"{message}; {note}", ckpt)


async def _log_ends_or_none(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> dict[tuple[str, ...], int] | None:
    try:
        return await log_ends(ex, capability, server) or None
    except ObSqlError as exc:
        if exc.errno in NO_SUCH_VIEW:
            return None
        raise


async def _wait_checkpoint(
    ex: SqlExecutor,
    capability: ObCapability,
    server: ServerAddr,
    freeze_point: dict[tuple[str, ...], int] | None,
    *,
    timeout: float,
    log: LogFn,
    poll_interval: float,
) -> tuple[float | None, str]:
    """Until every log stream's checkpoint reached the end its log had before the freeze: the seconds it
    took, or None, and the words for the step's log."""
    if freeze_point is None:
        return None, "the log streams' checkpoint is not visible on this server: not waited for"
    if not freeze_point:
        return None, "too little was frozen to wait for the checkpoint (its replay is quicker)"

    async def passed() -> str | None:
        now = await checkpoints(ex, capability, server)
        behind = [key for key, scn in freeze_point.items() if now.get(key, 0) < scn]
        return f"checkpoint of {len(behind)} log stream(s) past the freeze point" if behind else None

    try:
        waited = await wait_until(
            passed, what=f"{ex.address}: checkpoint of {server}", timeout=timeout, log=log,
            poll_interval=poll_interval,
        )  # fmt: skip
    except ObSqlError as exc:
        if exc.errno not in NO_SUCH_VIEW:
            raise
        return None, "the log streams' checkpoint is not visible on this server: not waited for"
    except ObWaitTimeout:
        return None, (
            f"the log streams' checkpoint did not pass the freeze point within {timeout:g} s: the restart "
            "may replay the redo written before it"
        )
    return waited, f"checkpoint past the freeze point {waited:.1f} s later (no redo of the dump to replay)"


async def _freeze(ex: SqlExecutor, capability: ObCapability, server: ServerAddr) -> float:
    if capability.distributed:
        await ex.execute(FREEZE_SERVER_SQL, (str(server),))
    else:
        await ex.execute(FREEZE_SQL)
    return time.monotonic()
