"""The OceanBase 4.x checks and statements a restart needs: health gate, majority after stop, STOP/START ZONE
and SERVER.

Every operation first looks whether its effect is already there (zone already INACTIVE, server already
stopped, zone already ACTIVE...) and then succeeds without sending anything, so a retried or resumed
subtask is safe. STOP ZONE/SERVER are preceded by our own checks (other stops, majority after the stop)
so a refusal explains itself; the server repeats them. On a standalone server (seekdb) every operation
is an explicit no-op whose message says so.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from obcp.ob.capability import ObCapability, detect_capability
from obcp.ob.cluster_checks import (
    HealthReport,
    LsShortfall,
    check_majority_after_stop,
    health_gate,
    leaders_in_zone,
    leaders_on_server,
    not_in_sync_replicas,
    server_row,
    unrefreshed_tenants,
    zone_servers,
)
from obcp.ob.errors import ObOperationRefused, ObSqlError
from obcp.ob.executor import SqlExecutor
from obcp.ob.topology import ObServer, ServerAddr
from obcp.ob.waiting import DEFAULT_LOG_INTERVAL, Check, LogFn, no_log, wait_until

# Tells whether an ALTER SYSTEM that failed had its effect anyway.
_Done = Callable[[], Awaitable[bool]]

ZONE_STATUS_SQL = "SELECT ZONE, STATUS FROM oceanbase.DBA_OB_ZONES WHERE ZONE = %s"
OTHER_STOPS_SQL = (
    "SELECT ZONE FROM oceanbase.DBA_OB_SERVERS WHERE STOP_TIME IS NOT NULL AND ZONE <> %s "
    "UNION SELECT ZONE FROM oceanbase.DBA_OB_ZONES WHERE STATUS = 'INACTIVE' AND ZONE <> %s"
)
SET_QUERY_TIMEOUT_SQL = "SET SESSION ob_query_timeout = %s"
STOP_ZONE_SQL = "ALTER SYSTEM STOP ZONE %s"
START_ZONE_SQL = "ALTER SYSTEM START ZONE %s"
STOP_SERVER_SQL = "ALTER SYSTEM STOP SERVER %s"
FORCE_STOP_SERVER_SQL = "ALTER SYSTEM FORCE STOP SERVER %s"
START_SERVER_SQL = "ALTER SYSTEM START SERVER %s"

# STOP ZONE/SERVER block until every leader has left; OceanBase's default ob_query_timeout is 10 s.
DEFAULT_STATEMENT_TIMEOUT = 600.0
# Zone names are identifiers in OceanBase; refusing anything else keeps odd input out of ALTER SYSTEM.
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True)
class OpResult:
    """`acted`: a statement that changes the cluster was sent. `applicable`: False on standalone."""

    acted: bool
    message: str
    applicable: bool = True


@dataclass(frozen=True)
class MajorityVerdict:
    safe: bool
    message: str
    shortfalls: tuple[LsShortfall, ...] = ()
    applicable: bool = True


def not_applicable(what: str) -> str:
    return f"standalone server: {what} not applicable"


class ClusterOps:
    """Checks and ALTER SYSTEM statements over one sys-tenant session of a cluster."""

    def __init__(
        self,
        ex: SqlExecutor,
        capability: ObCapability,
        *,
        log: LogFn = no_log,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        poll_interval: float = 1.0,
        log_interval: float = DEFAULT_LOG_INTERVAL,
    ) -> None:
        self.ex = ex
        self.capability = capability
        self._log = log
        self._statement_timeout = statement_timeout
        self._poll = poll_interval
        self._log_interval = log_interval

    @classmethod
    async def detect(cls, ex: SqlExecutor, *, log: LogFn = no_log, **kwargs: float) -> ClusterOps:
        return cls(ex, await detect_capability(ex), log=log, **kwargs)

    @property
    def distributed(self) -> bool:
        return self.capability.distributed

    # -- checks ---------------------------------------------------------------------------------------

    async def health_gate(self, *, ignore_zones: Iterable[str] = ()) -> HealthReport:
        if not self.distributed:
            return HealthReport(True, (), applicable=False)
        return await health_gate(self.ex, ignore_zones=ignore_zones)

    async def check_majority_after_stop(
        self, *, zone: str | None = None, servers: Sequence[ServerAddr] = (), force: bool = False
    ) -> MajorityVerdict:
        """Would stopping `zone` (or `servers`) leave every log stream with a majority?"""
        if not self.distributed:
            return MajorityVerdict(True, not_applicable("majority-after-stop check"), applicable=False)
        stopped = set(servers)
        target = ", ".join(str(s) for s in servers)
        if zone is not None:
            stopped |= await zone_servers(self.ex, _zone_name(zone))
            target = f"zone {zone}"
        if not stopped:
            raise ObOperationRefused(
                f"{self.ex.address}: majority check: {target or 'nothing'} has no servers"
            )
        shortfalls = await check_majority_after_stop(self.ex, stopped, require_in_sync=not force)
        if not shortfalls:
            return MajorityVerdict(True, f"stopping {target} leaves every log stream with a majority")
        shown = "; ".join(s.describe() for s in shortfalls[:5])
        more = f" and {len(shortfalls) - 5} more" if len(shortfalls) > 5 else ""
        return MajorityVerdict(
            False,
            f"stopping {target} would leave log streams without a majority: {shown}{more}. "
            "A rolling restart cannot keep this cluster serving; use FORCE mode (all zones at once, "
            "with an outage) instead",
            tuple(shortfalls),
        )

    async def wait_logs_in_sync(
        self, *, servers: Sequence[ServerAddr] | None = None, timeout: float
    ) -> OpResult:
        if not self.distributed:
            return OpResult(False, not_applicable("log sync check"), applicable=False)

        async def check() -> str | None:
            lagging = await not_in_sync_replicas(self.ex, servers)
            if not lagging:
                return None
            return f"{len(lagging)} replica(s) IN_SYNC=NO: " + ", ".join(lagging[:5])

        where = "all servers" if servers is None else ", ".join(str(s) for s in servers)
        waited = await self._wait(check, f"logs in sync on {where}", timeout)
        return OpResult(False, f"logs in sync on {where} after {waited:.1f} s")

    async def wait_schema_refreshed(self, server: ServerAddr, *, timeout: float) -> OpResult:
        if not self.distributed:
            return OpResult(False, not_applicable("schema refresh check"), applicable=False)

        async def check() -> str | None:
            stale = await unrefreshed_tenants(self.ex, server)
            return ("tenant(s) " + ", ".join(stale)) if stale else None

        waited = await self._wait(check, f"schema refreshed on {server}", timeout)
        return OpResult(False, f"schema of every tenant refreshed on {server} after {waited:.1f} s")

    # -- zones ----------------------------------------------------------------------------------------

    async def stop_zone(self, zone: str, *, timeout: float | None = None) -> OpResult:
        if not self.distributed:
            return OpResult(False, not_applicable("ALTER SYSTEM STOP ZONE"), applicable=False)
        zone = _zone_name(zone)
        status = await self._zone_status(zone)
        if status == "INACTIVE":
            return OpResult(False, f"zone {zone} is already INACTIVE (stopped); nothing sent")
        others = await self._other_stops(zone)
        if others:
            raise ObOperationRefused(
                f"{self.ex.address}: ALTER SYSTEM STOP ZONE '{zone}' refused: zone(s) "
                f"{', '.join(others)} already stopped or hold a stopped server; start them first"
            )
        verdict = await self.check_majority_after_stop(zone=zone)
        if not verdict.safe:
            raise ObOperationRefused(
                f"{self.ex.address}: ALTER SYSTEM STOP ZONE '{zone}' refused: {verdict.message}"
            )
        sent = await self._alter(STOP_ZONE_SQL, zone, done=lambda: self._zone_is(zone, "INACTIVE"))

        async def stopped() -> str | None:
            if await self._zone_status(zone) != "INACTIVE":
                return f"zone {zone} INACTIVE in DBA_OB_ZONES"
            leaders = await leaders_in_zone(self.ex, zone)
            return f"{leaders} log stream leader(s) to leave zone {zone}" if leaders else None

        await self._wait(stopped, f"stop zone {zone}", timeout or self._statement_timeout)
        if not sent:
            return OpResult(False, f"zone {zone} was stopped meanwhile by someone else (INACTIVE, no leader)")
        return OpResult(True, f"zone {zone} stopped (INACTIVE, no leader left in it)")

    async def start_zone(self, zone: str, *, timeout: float | None = None) -> OpResult:
        if not self.distributed:
            return OpResult(False, not_applicable("ALTER SYSTEM START ZONE"), applicable=False)
        zone = _zone_name(zone)
        if await self._zone_status(zone) == "ACTIVE":
            return OpResult(False, f"zone {zone} is already ACTIVE; nothing sent")
        sent = await self._alter(START_ZONE_SQL, zone, done=lambda: self._zone_is(zone, "ACTIVE"))

        async def started() -> str | None:
            status = await self._zone_status(zone)
            return None if status == "ACTIVE" else f"zone {zone} ACTIVE in DBA_OB_ZONES (now {status})"

        await self._wait(started, f"start zone {zone}", timeout or self._statement_timeout)
        if not sent:
            return OpResult(False, f"zone {zone} is already ACTIVE (started meanwhile by someone else)")
        return OpResult(True, f"zone {zone} started (ACTIVE)")

    # -- servers --------------------------------------------------------------------------------------

    async def stop_server(
        self, server: ServerAddr, *, force: bool = False, timeout: float | None = None
    ) -> OpResult:
        verb = "FORCE STOP SERVER" if force else "STOP SERVER"
        if not self.distributed:
            return OpResult(False, not_applicable(f"ALTER SYSTEM {verb}"), applicable=False)
        row = await self._server(server)
        if row.stop_time is not None:
            return OpResult(False, f"server {server} is already stopped (STOP_TIME set); nothing sent")
        others = await self._other_stops(row.zone)
        if others:
            raise ObOperationRefused(
                f"{self.ex.address}: ALTER SYSTEM {verb} '{server}' refused: zone(s) {', '.join(others)} "
                "already stopped or hold a stopped server; start them first"
            )
        verdict = await self.check_majority_after_stop(servers=[server], force=force)
        if not verdict.safe:
            raise ObOperationRefused(
                f"{self.ex.address}: ALTER SYSTEM {verb} '{server}' refused: {verdict.message}"
            )
        sql = FORCE_STOP_SERVER_SQL if force else STOP_SERVER_SQL
        sent = await self._alter(sql, str(server), done=lambda: self._server_stopped(server, True))

        async def stopped() -> str | None:
            if (await self._server(server)).stop_time is None:
                return f"server {server} STOP_TIME set in DBA_OB_SERVERS"
            leaders = await leaders_on_server(self.ex, server)
            return f"{leaders} log stream leader(s) to leave {server}" if leaders else None

        await self._wait(stopped, f"stop server {server}", timeout or self._statement_timeout)
        if not sent:
            return OpResult(False, f"server {server} was stopped meanwhile by someone else")
        return OpResult(True, f"server {server} stopped ({verb}, no leader left on it)")

    async def start_server(self, server: ServerAddr, *, timeout: float | None = None) -> OpResult:
        if not self.distributed:
            return OpResult(False, not_applicable("ALTER SYSTEM START SERVER"), applicable=False)
        if (await self._server(server)).stop_time is None:
            return OpResult(False, f"server {server} is not stopped (STOP_TIME NULL); nothing sent")
        sent = await self._alter(
            START_SERVER_SQL, str(server), done=lambda: self._server_stopped(server, False)
        )

        async def started() -> str | None:
            row = await self._server(server)
            return None if row.stop_time is None else f"server {server} STOP_TIME cleared in DBA_OB_SERVERS"

        await self._wait(started, f"start server {server}", timeout or self._statement_timeout)
        if not sent:
            return OpResult(False, f"server {server} was started meanwhile by someone else")
        return OpResult(True, f"server {server} started (STOP_TIME cleared)")

    # -- helpers --------------------------------------------------------------------------------------

    async def _alter(self, sql: str, target: str, *, done: _Done) -> bool:
        """Send an ALTER SYSTEM; True if it succeeded, False if it failed but its effect is there anyway
        (a race with another operator, a retry after a lost answer), which counts as success."""
        micros = int(self._statement_timeout * 1_000_000)
        await self.ex.execute(SET_QUERY_TIMEOUT_SQL, (micros,))
        try:
            await self.ex.execute(sql, (target,), timeout=self._statement_timeout + 5.0)
        except ObSqlError as exc:
            try:
                effect_there = await done()
            except ObSqlError:
                # The session is gone (timeout, lost connection): the statement's own error says more.
                raise exc from None
            if effect_there:
                self._log(f"{exc}; the effect is already there, treated as done")
                return False
            raise
        return True

    async def _zone_status(self, zone: str) -> str:
        rows = await self.ex.query(ZONE_STATUS_SQL, (zone,))
        if not rows:
            raise ObOperationRefused(f"{self.ex.address}: zone {zone} does not exist in DBA_OB_ZONES")
        return str(rows[0]["STATUS"])

    async def _zone_is(self, zone: str, status: str) -> bool:
        return await self._zone_status(zone) == status

    async def _server(self, server: ServerAddr) -> ObServer:
        row = await server_row(self.ex, server)
        if row is None:
            raise ObOperationRefused(f"{self.ex.address}: server {server} does not exist in DBA_OB_SERVERS")
        return row

    async def _server_stopped(self, server: ServerAddr, stopped: bool) -> bool:
        return ((await self._server(server)).stop_time is not None) == stopped

    async def _other_stops(self, zone: str) -> list[str]:
        return sorted({str(r["ZONE"]) for r in await self.ex.query(OTHER_STOPS_SQL, (zone, zone))})

    async def _wait(self, check: Check, what: str, timeout: float) -> float:
        return await wait_until(
            check,
            what=f"{self.ex.address}: {what}",
            timeout=timeout,
            log=self._log,
            poll_interval=self._poll,
            log_interval=self._log_interval,
        )


def _zone_name(zone: str) -> str:
    if not _ZONE_NAME.match(zone):
        raise ObOperationRefused(f"invalid zone name {zone!r}")
    return zone
