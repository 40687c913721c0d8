"""Is an observer serving, and is it a new process?

`probe` is a real login plus `SELECT 1` (a listening port is not enough: obd#202). `restart_proof` reads
`START_SERVICE_TIME` (epoch µs), which changes on every restart. `wait_accessible` polls both, and on a
distributed cluster also the server's own row in DBA_OB_SERVERS, its log streams' sync and its schema.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import Enum

from obcp.ob.capability import ObCapability, detect_capability
from obcp.ob.cluster_checks import not_in_sync_replicas, server_row, unrefreshed_tenants
from obcp.ob.connection import Connector, ObEndpoint, ObTimeouts, open_connection
from obcp.ob.errors import ObConnectError, ObLoginError, ObSqlError, ObTimeoutError
from obcp.ob.executor import SessionFactory, SqlExecutor
from obcp.ob.topology import ServerAddr, to_epoch_us
from obcp.ob.waiting import DEFAULT_LOG_INTERVAL, DEFAULT_POLL_INTERVAL, LogFn, no_log, wait_until

PROBE_SQL = "SELECT 1 AS OK"
STANDALONE_PROOF_SQL = "SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT"
SELF_ADDR_SQL = "SELECT host_ip() AS SVR_IP, rpc_port() AS SVR_PORT"

# A probe must fail fast: the caller polls it.
PROBE_TIMEOUTS = ObTimeouts(connect=2.0, read=5.0)


class ProbeFailure(Enum):
    REFUSED = "connection refused or unreachable"
    NO_HANDSHAKE = "no MySQL handshake (port held by something else, or observer hung)"
    LOGIN_DENIED = "login denied"
    TIMEOUT = "no answer in time"
    SQL_ERROR = "SQL error"


@dataclass(frozen=True)
class ProbeResult:
    address: str
    ok: bool
    seconds: float
    failure: ProbeFailure | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"{self.address}: login and SELECT 1 answered in {self.seconds * 1000:.1f} ms"
        assert self.failure is not None
        return f"{self.failure.value} ({self.detail})"


async def probe(
    host: str,
    port: int,
    password: str,
    *,
    user: str = "root",
    timeouts: ObTimeouts = PROBE_TIMEOUTS,
    connect: Connector = open_connection,
) -> ProbeResult:
    """One real login and `SELECT 1`. Never raises for an observer that is down; says why instead."""
    endpoint = ObEndpoint(host, port, password, user)
    start = time.monotonic()
    try:
        async with connect(endpoint, timeouts) as conn:
            await conn.query(PROBE_SQL)
    except ObSqlError as exc:
        return ProbeResult(endpoint.address, False, time.monotonic() - start, _classify(exc), str(exc))
    return ProbeResult(endpoint.address, True, time.monotonic() - start)


def _classify(exc: ObSqlError) -> ProbeFailure:
    if isinstance(exc, ObLoginError):
        return ProbeFailure.LOGIN_DENIED
    if isinstance(exc, ObConnectError):
        return ProbeFailure.REFUSED if exc.errno is not None else ProbeFailure.NO_HANDSHAKE
    if isinstance(exc, ObTimeoutError):
        return ProbeFailure.TIMEOUT
    return ProbeFailure.SQL_ERROR


async def restart_proof(ex: SqlExecutor, capability: ObCapability | None = None) -> int:
    """START_SERVICE_TIME (epoch µs) of the observer the session is on; differs after every restart."""
    cap = capability or await detect_capability(ex)
    if cap.distributed:
        addr = await self_addr(ex)
        row = await server_row(ex, addr)
        value = None if row is None else row.start_service_time
    else:
        rows = await ex.query(STANDALONE_PROOF_SQL)
        value = to_epoch_us(rows[0]["START_SERVICE_TIME"]) if rows else None
    if value is None:
        raise ObSqlError(ex.address, "START_SERVICE_TIME", None, "observer reports no start service time")
    return value


async def self_addr(ex: SqlExecutor) -> ServerAddr:
    rows = await ex.query(SELF_ADDR_SQL)
    return ServerAddr(str(rows[0]["SVR_IP"]), int(rows[0]["SVR_PORT"]))


@dataclass(frozen=True)
class Accessible:
    address: str
    seconds: float
    start_service_time: int
    capability: ObCapability


async def wait_accessible(
    host: str,
    port: int,
    password: str,
    *,
    timeout: float,
    previous_start_service_time: int | None = None,
    log: LogFn = no_log,
    user: str = "root",
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    log_interval: float = DEFAULT_LOG_INTERVAL,
    timeouts: ObTimeouts = PROBE_TIMEOUTS,
    connect: Connector = open_connection,
) -> Accessible:
    """Poll until the observer at host:port serves SQL as a new process; raises ObWaitTimeout.

    New process = START_SERVICE_TIME differs from `previous_start_service_time` (when given). On a
    distributed cluster it must also be ACTIVE with a start-service time in DBA_OB_SERVERS, have no log
    stream replica out of sync and every tenant's schema refreshed on it. Each poll opens a new session.
    """
    endpoint = ObEndpoint(host, port, password, user)

    def open_session() -> AbstractAsyncContextManager[SqlExecutor]:
        return connect(endpoint, timeouts)

    return await wait_serving(
        open_session,
        endpoint.address,
        timeout=timeout,
        previous_start_service_time=previous_start_service_time,
        log=log,
        poll_interval=poll_interval,
        log_interval=log_interval,
    )


async def wait_serving(
    open_session: SessionFactory,
    address: str,
    *,
    timeout: float,
    previous_start_service_time: int | None = None,
    log: LogFn = no_log,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    log_interval: float = DEFAULT_LOG_INTERVAL,
) -> Accessible:
    """`wait_accessible` over any session factory (the 4.x stand-in in tests)."""
    found: list[tuple[int, ObCapability]] = []

    async def check() -> str | None:
        try:
            async with open_session() as ex:
                cap = await detect_capability(ex)
                if cap.distributed:
                    missing, stamp = await _distributed_missing(ex)
                    if missing is not None:
                        return missing
                else:
                    stamp = await restart_proof(ex, cap)
                assert stamp is not None
                if previous_start_service_time is not None and stamp == previous_start_service_time:
                    return (
                        f"a new process: START_SERVICE_TIME is still {stamp}, the same as before the "
                        "restart (the old process still serves)"
                    )
                found.append((stamp, cap))
                return None
        except ObSqlError as exc:
            return f"{_classify(exc).value}: {exc}"

    seconds = await wait_until(
        check,
        what=f"observer {address} accessible",
        timeout=timeout,
        log=log,
        poll_interval=poll_interval,
        log_interval=log_interval,
    )
    stamp, cap = found[-1]
    return Accessible(address, seconds, stamp, cap)


async def _distributed_missing(ex: SqlExecutor) -> tuple[str | None, int | None]:
    addr = await self_addr(ex)
    row = await server_row(ex, addr)
    if row is None:
        return f"server {addr} to appear in DBA_OB_SERVERS", None
    if row.status != "ACTIVE":
        return f"server {addr} to be ACTIVE in DBA_OB_SERVERS (status {row.status})", None
    if row.start_service_time is None:
        return f"server {addr} to start service (START_SERVICE_TIME is NULL)", None
    lagging = await not_in_sync_replicas(ex, [addr])
    if lagging:
        return f"logs in sync on {addr}: {len(lagging)} replica(s) IN_SYNC=NO: " + ", ".join(
            lagging[:5]
        ), None
    stale = await unrefreshed_tenants(ex, addr)
    if stale:
        return f"schema refreshed on {addr} for tenant(s): " + ", ".join(stale), None
    return None, row.start_service_time
