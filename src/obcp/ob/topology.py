"""Zones, servers and tenants as the cluster itself reports them.

4.x: `DBA_OB_ZONES`, `DBA_OB_SERVERS`, `DBA_OB_TENANTS` (sys tenant). Standalone (seekdb): none of these
exist, so the topology is one implicit zone holding the one server described by `V$OB_SERVER_STAT`, and
one implicit tenant (seekdb has no tenant views at all; `__all_virtual_tenant` and friends are absent too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from obcp.ob.capability import ObCapability, detect_capability
from obcp.ob.executor import Row, SqlExecutor

IMPLICIT_ZONE = "zone1"
IMPLICIT_TENANT = "sys"

ZONES_SQL = "SELECT ZONE, STATUS, REGION, IDC FROM oceanbase.DBA_OB_ZONES ORDER BY ZONE"
SERVERS_SQL = (
    "SELECT SVR_IP, SVR_PORT, SQL_PORT, ZONE, WITH_ROOTSERVER, STATUS, "
    "TIME_TO_USEC(START_SERVICE_TIME) AS START_SERVICE_TIME, TIME_TO_USEC(STOP_TIME) AS STOP_TIME, "
    "BUILD_VERSION FROM oceanbase.DBA_OB_SERVERS ORDER BY ZONE, SVR_IP, SVR_PORT"
)
TENANTS_SQL = (
    "SELECT TENANT_ID, TENANT_NAME, TENANT_TYPE, STATUS, PRIMARY_ZONE, LOCALITY, COMPATIBILITY_MODE "
    "FROM oceanbase.DBA_OB_TENANTS ORDER BY TENANT_ID"
)
STANDALONE_SERVER_SQL = (
    "SELECT SVR_IP, SVR_PORT, SQL_PORT, START_SERVICE_TIME, ROLE, DATA_DISK_HEALTH_STATUS "
    "FROM oceanbase.V$OB_SERVER_STAT"
)


@dataclass(frozen=True)
class ServerAddr:
    """An observer as OceanBase names it in ALTER SYSTEM: its IP and RPC port."""

    ip: str
    rpc_port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.rpc_port}"


@dataclass(frozen=True)
class ObZone:
    name: str
    status: str  # ACTIVE | INACTIVE
    region: str | None = None
    idc: str | None = None
    implicit: bool = False


@dataclass(frozen=True)
class ObServer:
    """`start_service_time`/`stop_time` are epoch µs, None when not serving / not stopped."""

    ip: str
    rpc_port: int
    sql_port: int
    zone: str
    status: str  # ACTIVE | INACTIVE | DELETING
    start_service_time: int | None
    stop_time: int | None
    with_rootserver: bool
    build_version: str | None = None

    @property
    def addr(self) -> ServerAddr:
        return ServerAddr(self.ip, self.rpc_port)

    @property
    def serving(self) -> bool:
        return self.status == "ACTIVE" and self.start_service_time is not None and self.stop_time is None


@dataclass(frozen=True)
class ObTenant:
    tenant_id: int
    name: str
    tenant_type: str  # SYS | META | USER
    status: str
    primary_zone: str | None = None
    locality: str | None = None
    compatibility_mode: str | None = None
    implicit: bool = False


@dataclass(frozen=True)
class ObTopology:
    capability: ObCapability
    zones: tuple[ObZone, ...]
    servers: tuple[ObServer, ...]

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zones)


async def read_topology(ex: SqlExecutor, capability: ObCapability | None = None) -> ObTopology:
    cap = capability or await detect_capability(ex)
    if not cap.distributed:
        rows = await ex.query(STANDALONE_SERVER_SQL)
        servers = tuple(_standalone_server(r) for r in rows)
        return ObTopology(cap, (ObZone(IMPLICIT_ZONE, "ACTIVE", implicit=True),), servers)
    zones = tuple(
        ObZone(str(r["ZONE"]), str(r["STATUS"]), _opt_str(r.get("REGION")), _opt_str(r.get("IDC")))
        for r in await ex.query(ZONES_SQL)
    )
    servers = tuple(server_from_row(r) for r in await ex.query(SERVERS_SQL))
    return ObTopology(cap, zones, servers)


async def read_tenants(ex: SqlExecutor, capability: ObCapability | None = None) -> tuple[ObTenant, ...]:
    cap = capability or await detect_capability(ex)
    if not cap.distributed:
        return (ObTenant(1, IMPLICIT_TENANT, "SYS", "NORMAL", IMPLICIT_ZONE, None, "MYSQL", implicit=True),)
    return tuple(
        ObTenant(
            tenant_id=int(r["TENANT_ID"]),
            name=str(r["TENANT_NAME"]),
            tenant_type=str(r["TENANT_TYPE"]),
            status=str(r["STATUS"]),
            primary_zone=_opt_str(r.get("PRIMARY_ZONE")),
            locality=_opt_str(r.get("LOCALITY")),
            compatibility_mode=_opt_str(r.get("COMPATIBILITY_MODE")),
        )
        for r in await ex.query(TENANTS_SQL)
    )


def _standalone_server(r: Row) -> ObServer:
    # seekdb reports the configured-but-unused rpc_port (2882) here; it is kept because it is what the
    # server calls itself, not because anything listens on it.
    return ObServer(
        ip=str(r["SVR_IP"]),
        rpc_port=int(r["SVR_PORT"]),
        sql_port=int(r["SQL_PORT"]),
        zone=IMPLICIT_ZONE,
        status="ACTIVE",
        start_service_time=to_epoch_us(r.get("START_SERVICE_TIME")),
        stop_time=None,
        with_rootserver=True,
    )


def server_from_row(r: Row) -> ObServer:
    return ObServer(
        ip=str(r["SVR_IP"]),
        rpc_port=int(r["SVR_PORT"]),
        sql_port=int(r["SQL_PORT"]),
        zone=str(r["ZONE"]),
        status=str(r["STATUS"]),
        start_service_time=to_epoch_us(r.get("START_SERVICE_TIME")),
        stop_time=to_epoch_us(r.get("STOP_TIME")),
        with_rootserver=str(r.get("WITH_ROOTSERVER") or "").upper() == "YES",
        build_version=_opt_str(r.get("BUILD_VERSION")),
    )


def to_epoch_us(value: object) -> int | None:
    """OceanBase gives µs integers (TIME_TO_USEC, V$OB_SERVER_STAT); 0 and NULL both mean "not set"."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(stamp.timestamp() * 1_000_000)
    number = int(str(value))
    return number or None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
