"""Minor freeze of one observer before it stops, so that its restart does not replay a full memtable's redo.

`ALTER SYSTEM MINOR FREEZE` freezes the active memtables; the freeze has finished when every memtable
that was there before it is gone, because each frozen one is dumped to a MINI sstable and then released.
`V$OB_SSTABLES` shows that on seekdb (measured: the MEMTABLE rows turn IS_ACTIVE = 'NO', 1-5 s later they
are gone and as many MINI rows are there); `GV$OB_SSTABLES` (with SVR_IP/SVR_PORT) on a
distributed 4.x cluster, where `ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = ('ip:port')` freezes every
tenant of that one server.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import time
from dataclasses import dataclass

from obcp.ob.capability import ObCapability
from obcp.ob.executor import SqlExecutor
from obcp.ob.topology import ServerAddr
from obcp.ob.waiting import LogFn, no_log, wait_until

FREEZE_SQL = "ALTER SYSTEM MINOR FREEZE"
FREEZE_SERVER_SQL = "ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = (%s)"
MEMTABLES_SQL = (
    "SELECT TABLET_ID, START_LOG_SCN, IS_ACTIVE FROM oceanbase.V$OB_SSTABLES WHERE TABLE_TYPE = 'MEMTABLE'"
)
MEMTABLES_ON_SERVER_SQL = (
    "SELECT TENANT_ID, LS_ID, TABLET_ID, START_LOG_SCN, IS_ACTIVE FROM oceanbase.GV$OB_SSTABLES "
    "WHERE SVR_IP = %s AND SVR_PORT = %s AND TABLE_TYPE = 'MEMTABLE'"
)
DEFAULT_FREEZE_TIMEOUT = 300.0
# seekdb ignores a freeze in its first seconds after a start (measured: it took effect 7-8 s after a
# restart, and not within 20 s of the first start of a new base dir, while 25 s after that start the same
# statement froze and dumped everything in 5 s), so it is sent again while nothing has been frozen yet.
RESEND_INTERVAL = 2.0


@dataclass(frozen=True)
class FreezeResult:
    seconds: float
    memtables: int
    message: str


async def memtables(
    ex: SqlExecutor, capability: ObCapability, server: ServerAddr
) -> dict[tuple[str, ...], bool]:
    """The memtables on `server`, each as (tenant, log stream, tablet, start SCN) -> still active."""
    if capability.distributed:
        rows = await ex.query(MEMTABLES_ON_SERVER_SQL, (server.ip, server.rpc_port))
    else:
        rows = await ex.query(MEMTABLES_SQL)
    keys = ("TENANT_ID", "LS_ID", "TABLET_ID", "START_LOG_SCN")
    return {tuple(str(r.get(k, "")) for k in keys): str(r["IS_ACTIVE"]).upper() == "YES" for r in rows}


async def minor_freeze(
    ex: SqlExecutor,
    capability: ObCapability,
    server: ServerAddr,
    *,
    timeout: float = DEFAULT_FREEZE_TIMEOUT,
    log: LogFn = no_log,
    poll_interval: float = 0.5,
) -> FreezeResult:
    """Freeze `server`'s memtables and wait until every memtable it had before is dumped (no longer a
    MEMTABLE row: a fresh active one has another start SCN; right after the statement the old ones may
    not even show as frozen yet, so "no frozen memtable" alone proves nothing). `ex` is a session on that
    server (standalone) or on any server of the cluster (distributed). Raises ObSqlError when the
    statement fails, ObWaitTimeout when the dump does not finish within `timeout`."""
    before = set(await memtables(ex, capability, server))
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
    return FreezeResult(
        waited,
        len(before),
        f"minor freeze of {server} finished in {waited:.1f} s ({len(before)} memtable(s) dumped{times})",
    )


async def _freeze(ex: SqlExecutor, capability: ObCapability, server: ServerAddr) -> float:
    if capability.distributed:
        await ex.execute(FREEZE_SERVER_SQL, (str(server),))
    else:
        await ex.execute(FREEZE_SQL)
    return time.monotonic()
