"""Cluster parameters as the observers report them, and `ALTER SYSTEM SET`.

Where they are read, first that answers: `GV$OB_PARAMETERS` (OceanBase 4.x, one row per server with
SVR_IP/SVR_PORT/ZONE), `V$OB_PARAMETERS` (seekdb 1.4 has only this one: the session's own server, no
server columns), `SHOW PARAMETERS` (older servers). Only SCOPE = 'CLUSTER' rows are cluster parameters
(4.x lists every tenant's too). The value shown is the one in effect: on seekdb a `STATIC_EFFECTIVE`
parameter keeps reporting its old value after `ALTER SYSTEM SET` until the server restarts, then the new
one (measured).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from obcp.ob.capability import ObCapability
from obcp.ob.errors import ER_NO_SUCH_TABLE, ObSqlError
from obcp.ob.executor import Row, SqlExecutor
from obcp.ob.parameter_values import ValueRange, parse_range
from obcp.ob.readiness import self_addr

GV_PARAMETERS_SQL = "SELECT * FROM oceanbase.GV$OB_PARAMETERS WHERE SCOPE = 'CLUSTER'"
V_PARAMETERS_SQL = "SELECT * FROM oceanbase.V$OB_PARAMETERS WHERE SCOPE = 'CLUSTER'"
SHOW_PARAMETERS_SQL = "SHOW PARAMETERS"
SET_SQL = "ALTER SYSTEM SET {name} = %s"
SET_ON_SERVER_SQL = "ALTER SYSTEM SET {name} = %s SERVER = %s"

STATIC = "STATIC_EFFECTIVE"
READONLY = "READONLY"
# Parameter names are identifiers; anything else never reaches ALTER SYSTEM SET.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class Parameter:
    """What a parameter is (OCP's ParameterInfo), as one observer describes it."""

    name: str
    data_type: str
    default_value: str | None
    value_range: ValueRange
    edit_level: str
    section: str | None
    description: str

    @property
    def need_restart(self) -> bool:
        return self.edit_level == STATIC

    @property
    def readonly(self) -> bool:
        return self.edit_level == READONLY


@dataclass(frozen=True)
class ParameterValue:
    """One server's value of one parameter. `zone` is None where the view has no zone (seekdb)."""

    name: str
    svr_ip: str
    svr_port: int
    zone: str | None
    value: str


@dataclass(frozen=True)
class ParameterReading:
    source: str
    parameters: dict[str, Parameter]
    values: tuple[ParameterValue, ...]


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


async def read_parameters(ex: SqlExecutor) -> ParameterReading:
    """Every cluster parameter with each reporting server's value, from the first view that exists."""
    for source, sql in (("GV$OB_PARAMETERS", GV_PARAMETERS_SQL), ("V$OB_PARAMETERS", V_PARAMETERS_SQL)):
        try:
            rows = await ex.query(sql)
        except ObSqlError as exc:
            if exc.errno != ER_NO_SUCH_TABLE:
                raise
            continue
        return await _reading(ex, source, rows)
    rows = [r for r in await ex.query(SHOW_PARAMETERS_SQL) if str(r.get("SCOPE", "CLUSTER")) == "CLUSTER"]
    return await _reading(ex, "SHOW PARAMETERS", rows)


async def _reading(ex: SqlExecutor, source: str, rows: list[Row]) -> ParameterReading:
    parameters: dict[str, Parameter] = {}
    values: list[ParameterValue] = []
    own = None
    for r in rows:
        name = str(r["NAME"])
        if name not in parameters:
            parameters[name] = _parameter(r)
        if r.get("SVR_IP") is not None:
            ip, port = str(r["SVR_IP"]), int(r["SVR_PORT"])
        else:
            own = own or await self_addr(ex)
            ip, port = own.ip, own.rpc_port
        zone = r.get("ZONE")
        values.append(ParameterValue(name, ip, port, None if zone is None else str(zone), _text(r["VALUE"])))
    return ParameterReading(source, parameters, tuple(values))


def _parameter(r: Row) -> Parameter:
    data_type = str(r.get("DATA_TYPE") or "STRING").upper()
    info = _text(r.get("INFO"))
    default = r.get("DEFAULT_VALUE")
    return Parameter(
        name=str(r["NAME"]),
        data_type=data_type,
        default_value=None if default is None else _text(default),
        value_range=parse_range(data_type, info),
        edit_level=str(r.get("EDIT_LEVEL") or "DYNAMIC_EFFECTIVE").upper(),
        section=None if r.get("SECTION") is None else str(r["SECTION"]),
        # seekdb escapes quotes in INFO (`CPU\'s`).
        description=info.replace("\\'", "'"),
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


async def set_parameter(
    ex: SqlExecutor, capability: ObCapability, name: str, value: str, *, server: str | None = None
) -> None:
    """`ALTER SYSTEM SET name = 'value'`, on every server of a distributed cluster (OceanBase applies a
    cluster parameter everywhere), or on `server` ("ip:rpc_port") alone; on a standalone server, on it."""
    if not valid_name(name):
        raise ValueError(f"not a parameter name: {name!r}")
    if server is not None and capability.distributed:
        await ex.execute(SET_ON_SERVER_SQL.format(name=name), (value, server))
        return
    await ex.execute(SET_SQL.format(name=name), (value,))
