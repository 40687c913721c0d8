"""Scripted stand-in for a multi-node OceanBase 4.x cluster; not a real cluster.

No multi-node OceanBase can run on the test machines, so the distributed SQL path of `obcp.ob` is tested
against this fake. What it reproduces, and from where:

* The sys-tenant views the access layer reads, with their OceanBase 4.x column names (OceanBase 4.x
  reference; obshell's gorm models `agent/repository/model/oceanbase/models.go`): DBA_OB_ZONES,
  DBA_OB_SERVERS (START_SERVICE_TIME / STOP_TIME are timestamp(6), NULL = not serving / not stopped),
  DBA_OB_TENANTS, DBA_OB_UNITS, GV$OB_LOG_STAT (PAXOS_MEMBER_LIST as "ip:port:ts,...", IN_SYNC YES/NO),
  GV$OB_SERVER_SCHEMA_INFO, CDB_OB_LS_LOCATIONS. They are SQLite tables in a database attached as
  `oceanbase`, so the module's SELECTs run *unchanged* (with `%s` turned into `?`) and their joins and
  filters are really evaluated; TIME_TO_USEC, host_ip() and rpc_port() are provided as functions.
* `SELECT version(), @@version_comment` answers as OceanBase CE 4.2.1.2.
* ALTER SYSTEM STOP/START ZONE, [FORCE] STOP SERVER, START SERVER change the tables the way OceanBase
  4.x's own precheck of STOP SERVER/ZONE does: STOP is refused (errno 4179, OB_OP_NOT_ALLOW) when another
  zone is stopped or when a log stream would lose its majority of in-sync members (FORCE STOP SERVER
  skips only the in-sync condition); on success leaders leave the stopped zone/server at once (the real
  statement blocks until they have). START ZONE on an ACTIVE zone fails with "zone status not match"
  (obshell's observation). Exact errnos and texts of those refusals are approximations.

* For whole operation DAGs (tests/operations): `connector()` opens stand-in sessions where obcp would
  open MySQL ones, and `agent()` plays a host's agent: stop kills the server as above, start brings it
  back with its replicas out of sync and its schema stale until they have been read a few times (the
  catch-up a real observer does after a restart). Nothing runs as a process; agent actions are journaled
  in `statements` as "AGENT STOP"/"AGENT START" beside the SQL, with the zone's status at that moment.

Not reproduced: leader switch latency, the RS, units moving, anything not queried by `obcp.ob`. Any
statement it has no script for fails the test (AssertionError), so SQL drift is caught.
"""

# ruff: noqa: ASYNC109 -- the session mirrors SqlExecutor's signature, `timeout` included.
from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from obcp.agent.client import AgentError
from obcp.ob.connection import Connector, ObEndpoint, ObTimeouts
from obcp.ob.errors import ObConnectError, ObSqlError, describe_sql
from obcp.ob.executor import SqlExecutor
from obcp.ob.topology import ServerAddr
from tests.ob.ob4_standin_parameters import PARAMETER_SCHEMA, ParameterScripts

VERSION = "5.7.25-OceanBase_CE-v4.2.1.2"
VERSION_COMMENT = "OceanBase_CE 4.2.1.2 (r102010012023120119-3b2e4ba0) (Built Dec  1 2023 19:37:05)"
OB_OP_NOT_ALLOW = 4179
OB_ZONE_INFO_NOT_EXIST = 4663  # approximation

_SCHEMA = """
CREATE TABLE oceanbase.DBA_OB_ZONES (ZONE TEXT, CREATE_TIME TEXT, MODIFY_TIME TEXT, STATUS TEXT,
  IDC TEXT, REGION TEXT, TYPE TEXT);
CREATE TABLE oceanbase.DBA_OB_SERVERS (SVR_IP TEXT, SVR_PORT INTEGER, ID INTEGER, ZONE TEXT,
  SQL_PORT INTEGER, WITH_ROOTSERVER TEXT, STATUS TEXT, START_SERVICE_TIME TEXT, STOP_TIME TEXT,
  BLOCK_MIGRATE_IN_TIME TEXT, CREATE_TIME TEXT, MODIFY_TIME TEXT, BUILD_VERSION TEXT,
  LAST_OFFLINE_TIME TEXT);
CREATE TABLE oceanbase.DBA_OB_TENANTS (TENANT_ID INTEGER, TENANT_NAME TEXT, TENANT_TYPE TEXT,
  CREATE_TIME TEXT, MODIFY_TIME TEXT, PRIMARY_ZONE TEXT, LOCALITY TEXT, PREVIOUS_LOCALITY TEXT,
  COMPATIBILITY_MODE TEXT, STATUS TEXT, IN_RECYCLEBIN TEXT, LOCKED TEXT, TENANT_ROLE TEXT,
  SWITCHOVER_STATUS TEXT, LOG_MODE TEXT, UNIT_NUM INTEGER, COMPATIBLE TEXT, MAX_LS_ID INTEGER);
CREATE TABLE oceanbase.DBA_OB_UNITS (UNIT_ID INTEGER, TENANT_ID INTEGER, STATUS TEXT,
  RESOURCE_POOL_ID INTEGER, UNIT_GROUP_ID INTEGER, CREATE_TIME TEXT, MODIFY_TIME TEXT, ZONE TEXT,
  SVR_IP TEXT, SVR_PORT INTEGER, MIGRATE_FROM_SVR_IP TEXT, MIGRATE_FROM_SVR_PORT INTEGER,
  MANUAL_MIGRATE TEXT, UNIT_CONFIG_ID INTEGER, MAX_CPU REAL, MIN_CPU REAL, MEMORY_SIZE INTEGER,
  LOG_DISK_SIZE INTEGER, MAX_IOPS INTEGER, MIN_IOPS INTEGER, IOPS_WEIGHT INTEGER);
CREATE TABLE oceanbase."GV$OB_LOG_STAT" (TENANT_ID INTEGER, LS_ID INTEGER, SVR_IP TEXT,
  SVR_PORT INTEGER, ROLE TEXT, PROPOSAL_ID INTEGER, CONFIG_VERSION TEXT, ACCESS_MODE TEXT,
  PAXOS_MEMBER_LIST TEXT, PAXOS_REPLICA_NUM INTEGER, IN_SYNC TEXT, BASE_LSN INTEGER,
  BEGIN_LSN INTEGER, BEGIN_SCN INTEGER, END_LSN INTEGER, END_SCN INTEGER, MAX_LSN INTEGER,
  MAX_SCN INTEGER, ARBITRATION_MEMBER TEXT, DEGRADED_LIST TEXT, LEARNER_LIST TEXT);
CREATE TABLE oceanbase."GV$OB_SERVER_SCHEMA_INFO" (SVR_IP TEXT, SVR_PORT INTEGER, TENANT_ID INTEGER,
  REFRESHED_SCHEMA_VERSION INTEGER, RECEIVED_SCHEMA_VERSION INTEGER, SCHEMA_COUNT INTEGER,
  SCHEMA_SIZE INTEGER, MIN_SSTABLE_SCHEMA_VERSION INTEGER);
CREATE TABLE oceanbase.CDB_OB_LS_LOCATIONS (TENANT_ID INTEGER, LS_ID INTEGER, SVR_IP TEXT,
  SVR_PORT INTEGER, SQL_PORT INTEGER, ZONE TEXT, ROLE TEXT, MEMBER_LIST TEXT,
  PAXOS_REPLICA_NUMBER INTEGER, REPLICA_TYPE TEXT, LEARNER_LIST TEXT, REBUILD TEXT);
"""

_ALTER = re.compile(r"^ALTER SYSTEM (FORCE )?(STOP|START) (ZONE|SERVER) %s$", re.IGNORECASE)
_SET_TIMEOUT = re.compile(r"^SET SESSION ob_query_timeout = %s$", re.IGNORECASE)
_VERSION = re.compile(r"^SELECT version\(\) AS VERSION, @@version_comment AS VERSION_COMMENT$")

RPC_PORT = 2882
SQL_PORT = 2881
SCHEMA_VERSION = 1700000000000000


def _ts(epoch_us: int) -> str:
    return dt.datetime.fromtimestamp(epoch_us / 1e6, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _time_to_usec(value: object) -> int | None:
    if value is None:
        return None
    stamp = dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1_000_000)


@dataclass
class ReadHook:
    view: str
    reads_left: int
    action: Callable[[], None]


@dataclass
class Ob4StandIn(ParameterScripts):
    """A cluster of `zones` zones with one server each, and sys + one MySQL user tenant.

    Servers are 127.0.1.<n>:2882 (SQL 2881), the addresses only name rows: nothing is ever connected to.
    Every log stream has a full replica in every zone and its leader in the first zone.
    """

    zones: Sequence[str] = ("zone1", "zone2", "zone3")
    statements: list[tuple[str, str]] = field(default_factory=list)
    down: set[ServerAddr] = field(default_factory=set)
    hooks: list[ReadHook] = field(default_factory=list)
    clock_us: int = 1_795_000_000_000_000

    def __post_init__(self) -> None:
        self._open_views()
        self.servers = [ServerAddr(f"127.0.1.{i + 1}", RPC_PORT) for i in range(len(self.zones))]
        self._populate()

    def _open_views(self, *, threads: bool = False) -> None:
        """The views, empty, in an in-memory SQLite (`threads`: used from more than one thread)."""
        self.db = sqlite3.connect(":memory:", check_same_thread=not threads)
        self.db.execute("ATTACH DATABASE ':memory:' AS oceanbase")
        self.db.executescript(_SCHEMA)
        self.db.executescript(PARAMETER_SCHEMA)
        self.db.create_function("TIME_TO_USEC", 1, _time_to_usec)
        self._session: ServerAddr | None = None
        self.db.create_function("host_ip", 0, lambda: self._session.ip if self._session else None)
        self.db.create_function("rpc_port", 0, lambda: self._session.rpc_port if self._session else None)

    # -- initial state ----------------------------------------------------------------------------

    def _now(self) -> str:
        self.clock_us += 1_000_000
        return _ts(self.clock_us)

    def _populate(self) -> None:
        now = self._now()
        for zone in self.zones:
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_ZONES VALUES (?, ?, ?, 'ACTIVE', 'idc1', 'sys_region', "
                "'ReadWrite')",
                (zone, now, now),
            )
        for i, (zone, addr) in enumerate(zip(self.zones, self.servers, strict=True)):
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_SERVERS VALUES (?, ?, ?, ?, ?, ?, 'ACTIVE', ?, NULL, NULL, "
                "?, ?, "
                "'4.2.1.2_102010012023120119-3b2e4ba0(Dec  1 2023 19:37:05)', NULL)",
                (addr.ip, addr.rpc_port, i + 1, zone, SQL_PORT, "YES" if i == 0 else "NO", now, now, now),
            )
        locality = ", ".join(f"FULL{{1}}@{z}" for z in self.zones)
        zones = ";".join(self.zones)
        tenants = [(1, "sys", "SYS"), (1001, "META$1002", "META"), (1002, "obcp_t1", "USER")]
        for tid, name, kind in tenants:
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_TENANTS VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'MYSQL', 'NORMAL', "
                "'NO', 'NO', 'PRIMARY', 'NORMAL', 'NOARCHIVELOG', 1, '4.2.1.2', 1001)",
                (tid, name, kind, now, now, zones, locality),
            )
        for i, (zone, addr) in enumerate(zip(self.zones, self.servers, strict=True)):
            for tid in (1, 1002):
                self.db.execute(
                    "INSERT INTO oceanbase.DBA_OB_UNITS (UNIT_ID, TENANT_ID, STATUS, ZONE, SVR_IP, SVR_PORT) "
                    "VALUES (?, ?, 'ACTIVE', ?, ?, ?)",
                    (1000 * tid + i, tid, zone, addr.ip, addr.rpc_port),
                )
        for addr in self.servers:
            self._set_schema(addr, refreshed=True)
        for tid, ls_id in ((1, 1), (1001, 1), (1002, 1), (1002, 1001)):
            for addr in self.servers:
                self._insert_replica(tid, ls_id, addr, leader=addr == self.servers[0])
        self._populate_parameters()

    def _member_list(self) -> str:
        return ",".join(f"{a}:1" for a in self.servers)

    def _insert_replica(
        self, tid: int, ls_id: int, addr: ServerAddr, *, leader: bool, in_sync: str = "YES"
    ) -> None:
        zone = self.zone_of(addr)
        role = "LEADER" if leader else "FOLLOWER"
        self.db.execute(
            'INSERT INTO oceanbase."GV$OB_LOG_STAT" VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, '
            "0, 0, 1, 100, 2, "
            "100, 2, '', '', '')",
            (
                tid,
                ls_id,
                addr.ip,
                addr.rpc_port,
                role,
                "proposal_id:1, config_seq:1",
                "APPEND" if leader else "RAW_WRITE",
                self._member_list(),
                len(self.servers),
                in_sync,
            ),
        )
        self.db.execute(
            "INSERT INTO oceanbase.CDB_OB_LS_LOCATIONS VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, 'FULL', '', 'FALSE')",
            (
                tid,
                ls_id,
                addr.ip,
                addr.rpc_port,
                SQL_PORT,
                zone,
                role,
                self._member_list() if leader else "",
                len(self.servers),
            ),
        )

    def _set_schema(self, addr: ServerAddr, *, refreshed: bool) -> None:
        self.db.execute(
            'DELETE FROM oceanbase."GV$OB_SERVER_SCHEMA_INFO" WHERE SVR_IP = ? AND SVR_PORT = ?',
            (addr.ip, addr.rpc_port),
        )
        version = SCHEMA_VERSION if refreshed else 1
        for tid in (1, 1001, 1002):
            self.db.execute(
                'INSERT INTO oceanbase."GV$OB_SERVER_SCHEMA_INFO" VALUES (?, ?, ?, ?, ?, 500, 100000, 0)',
                (addr.ip, addr.rpc_port, tid, version, SCHEMA_VERSION),
            )

    # -- what tests change ------------------------------------------------------------------------

    def zone_of(self, addr: ServerAddr) -> str:
        return self.zones[self.servers.index(addr)]

    def set_in_sync(self, addr: ServerAddr, in_sync: bool, *, tenant_id: int = 1002) -> None:
        self.db.execute(
            'UPDATE oceanbase."GV$OB_LOG_STAT" SET IN_SYNC = ? WHERE SVR_IP = ? AND SVR_PORT = ? '
            "AND TENANT_ID = ? AND ROLE <> 'LEADER'",
            ("YES" if in_sync else "NO", addr.ip, addr.rpc_port, tenant_id),
        )

    def after_reads(self, view: str, reads: int, action: Callable[[], None]) -> None:
        """Run `action` right after `view` has been read `reads` more times (scripted timelines)."""
        self.hooks.append(ReadHook(view, reads, action))

    def kill_server(self, addr: ServerAddr) -> None:
        """The observer process dies: sessions to it are refused, its replicas vanish from GV$ views."""
        self.down.add(addr)
        now = self._now()
        self.db.execute(
            "UPDATE oceanbase.DBA_OB_SERVERS SET STATUS = 'INACTIVE', START_SERVICE_TIME = NULL, "
            "LAST_OFFLINE_TIME = ? WHERE SVR_IP = ? AND SVR_PORT = ?",
            (now, addr.ip, addr.rpc_port),
        )
        self._move_leaders_off({addr}, require_in_sync=False)
        self.db.execute(
            'DELETE FROM oceanbase."GV$OB_LOG_STAT" WHERE SVR_IP = ? AND SVR_PORT = ?',
            (addr.ip, addr.rpc_port),
        )

    def start_server_process(self, addr: ServerAddr) -> int:
        """The observer is back: new START_SERVICE_TIME, replicas catching up, schema not yet refreshed."""
        self.down.discard(addr)
        stamp = self.clock_us + 5_000_000
        self.clock_us = stamp
        self.db.execute(
            "UPDATE oceanbase.DBA_OB_SERVERS SET STATUS = 'ACTIVE', START_SERVICE_TIME = ? "
            "WHERE SVR_IP = ? AND SVR_PORT = ?",
            (_ts(stamp), addr.ip, addr.rpc_port),
        )
        for tid, ls_id in self.db.execute(
            'SELECT DISTINCT TENANT_ID, LS_ID FROM oceanbase."GV$OB_LOG_STAT"'
        ).fetchall():
            self.db.execute(
                "DELETE FROM oceanbase.CDB_OB_LS_LOCATIONS WHERE TENANT_ID = ? AND LS_ID = ? AND SVR_IP = ? "
                "AND SVR_PORT = ?",
                (tid, ls_id, addr.ip, addr.rpc_port),
            )
            self._insert_replica(tid, ls_id, addr, leader=False, in_sync="NO")
        self._set_schema(addr, refreshed=False)
        self.apply_static(addr)
        return _time_to_usec(_ts(stamp)) or 0

    def catch_up(self, addr: ServerAddr) -> None:
        self.db.execute(
            "UPDATE oceanbase.\"GV$OB_LOG_STAT\" SET IN_SYNC = 'YES' WHERE SVR_IP = ? AND SVR_PORT = ?",
            (addr.ip, addr.rpc_port),
        )

    def refresh_schema(self, addr: ServerAddr) -> None:
        self._set_schema(addr, refreshed=True)

    def set_zone_status(self, zone: str, status: str) -> None:
        self.db.execute("UPDATE oceanbase.DBA_OB_ZONES SET STATUS = ? WHERE ZONE = ?", (status, zone))

    def zone_status(self, zone: str) -> str:
        row = self.db.execute("SELECT STATUS FROM oceanbase.DBA_OB_ZONES WHERE ZONE = ?", (zone,)).fetchone()
        return str(row[0])

    def leaders_in(self, zone: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM oceanbase.CDB_OB_LS_LOCATIONS WHERE ROLE = 'LEADER' AND ZONE = ?", (zone,)
        ).fetchone()
        return int(row[0])

    def alter_statements(self) -> list[str]:
        return [sql for _, sql in self.statements if sql.upper().startswith("ALTER SYSTEM")]

    # -- sessions ---------------------------------------------------------------------------------

    def session(self, addr: ServerAddr | None = None) -> StandInSession:
        target = addr or self.servers[0]
        address = f"{target.ip}:{SQL_PORT}"
        if target in self.down:
            raise ObConnectError(
                address, "(login as root)", 2003, f"Can't connect to MySQL server on '{target.ip}'"
            )
        return StandInSession(self, target)

    @asynccontextmanager
    async def open_session(self, addr: ServerAddr | None = None) -> AsyncIterator[StandInSession]:
        yield self.session(addr)

    def server_at(self, ip: str) -> ServerAddr:
        for addr in self.servers:
            if addr.ip == ip:
                return addr
        raise AssertionError(f"the stand-in has no server at {ip}")

    def connector(self) -> Connector:
        """What obcp calls instead of `open_connection`: a session on the stand-in server at that address
        (refused, as a real connect would be, while the server is down)."""

        def connect(endpoint: ObEndpoint, timeouts: ObTimeouts) -> AbstractAsyncContextManager[SqlExecutor]:
            assert endpoint.port == SQL_PORT, f"obcp connected to {endpoint.address}, not a SQL port"
            return self.open_session(self.server_at(endpoint.host))

        return connect

    def agent(self, ip: str) -> StandInAgent:
        return StandInAgent(self, self.server_at(ip))

    def agent_actions(self) -> list[str]:
        return [sql for _, sql in self.statements if sql.startswith("AGENT ")]

    # -- statement handling -----------------------------------------------------------------------

    def _run(self, on: ServerAddr, sql: str, args: Sequence[object]) -> tuple[list[dict[str, Any]], int]:
        address = f"{on.ip}:{SQL_PORT}"
        if on in self.down:
            raise ObConnectError(address, describe_sql(sql, args), 2013, "Lost connection to MySQL server")
        text = " ".join(sql.split())
        self.statements.append((address, describe_sql(text, args)))
        if _VERSION.match(text):
            return [{"VERSION": VERSION, "VERSION_COMMENT": VERSION_COMMENT}], 1
        if _SET_TIMEOUT.match(text):
            return [], 0
        alter = _ALTER.match(text)
        if alter:
            self._alter(address, describe_sql(text, args), alter, str(args[0]))
            return [], 0
        if self.parameter_statement(address, text, args):
            return [], 0
        if not text.upper().startswith("SELECT"):
            raise AssertionError(f"stand-in has no script for: {text}")
        self._session = on
        try:
            cur = self.db.execute(text.replace("%s", "?"), tuple(args))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                table = str(exc).split(":", 1)[1].strip()
                raise ObSqlError(
                    address, describe_sql(text, args), 1146, f"Table '{table}' doesn't exist"
                ) from None
            raise AssertionError(f"stand-in cannot evaluate {text!r}: {exc}") from exc
        finally:
            self._session = None
        names = [d[0].upper() for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        self._fire_hooks(text)
        return rows, len(rows)

    def _fire_hooks(self, text: str) -> None:
        for hook in list(self.hooks):
            if hook.view.upper() in text.upper():
                hook.reads_left -= 1
                if hook.reads_left <= 0:
                    self.hooks.remove(hook)
                    hook.action()

    def _refuse(self, address: str, statement: str, why: str) -> ObSqlError:
        return ObSqlError(address, statement, OB_OP_NOT_ALLOW, f"{why} not allowed")

    def _alter(self, address: str, statement: str, m: re.Match[str], target: str) -> None:
        force, verb, kind = bool(m.group(1)), m.group(2).upper(), m.group(3).upper()
        if kind == "ZONE":
            if target not in self.zones:
                raise ObSqlError(address, statement, OB_ZONE_INFO_NOT_EXIST, "Zone info not exist")
            status = self.zone_status(target)
            if verb == "START":
                if status == "ACTIVE":
                    raise ObSqlError(address, statement, OB_OP_NOT_ALLOW, "zone status not match")
                self.db.execute(
                    "UPDATE oceanbase.DBA_OB_ZONES SET STATUS = 'ACTIVE' WHERE ZONE = ?", (target,)
                )
                return
            if status == "INACTIVE":
                raise ObSqlError(address, statement, OB_OP_NOT_ALLOW, "zone status not match")
            stopped = {a for a in self.servers if self.zone_of(a) == target}
            self._stop_precheck(address, statement, target, stopped, require_in_sync=True)
            self.db.execute("UPDATE oceanbase.DBA_OB_ZONES SET STATUS = 'INACTIVE' WHERE ZONE = ?", (target,))
            self._move_leaders_off(stopped, require_in_sync=True)
            return
        ip, port = target.rsplit(":", 1)
        addr = ServerAddr(ip, int(port))
        if addr not in self.servers:
            raise ObSqlError(address, statement, 4010, f"server {target} not exist")
        if verb == "START":
            self.db.execute(
                "UPDATE oceanbase.DBA_OB_SERVERS SET STOP_TIME = NULL WHERE SVR_IP = ? AND SVR_PORT = ?",
                (addr.ip, addr.rpc_port),
            )
            return
        self._stop_precheck(address, statement, self.zone_of(addr), {addr}, require_in_sync=not force)
        self.db.execute(
            "UPDATE oceanbase.DBA_OB_SERVERS SET STOP_TIME = ? WHERE SVR_IP = ? AND SVR_PORT = ?",
            (self._now(), addr.ip, addr.rpc_port),
        )
        self._move_leaders_off({addr}, require_in_sync=not force)

    def _stop_precheck(
        self, address: str, statement: str, zone: str, stopped: set[ServerAddr], *, require_in_sync: bool
    ) -> None:
        other = self.db.execute(
            "SELECT COUNT(*) FROM (SELECT ZONE FROM oceanbase.DBA_OB_SERVERS WHERE STOP_TIME IS NOT NULL "
            "AND ZONE <> ? UNION SELECT ZONE FROM oceanbase.DBA_OB_ZONES "
            "WHERE STATUS = 'INACTIVE' AND ZONE <> ?)",
            (zone, zone),
        ).fetchone()[0]
        if other:
            raise self._refuse(address, statement, "stop server or zone while another zone is stopped")
        for tid, ls_id, replica_num in self.db.execute(
            'SELECT TENANT_ID, LS_ID, PAXOS_REPLICA_NUM FROM oceanbase."GV$OB_LOG_STAT" '
            "WHERE ROLE = 'LEADER'"
        ).fetchall():
            alive = 0
            for ip, port, in_sync in self.db.execute(
                'SELECT SVR_IP, SVR_PORT, IN_SYNC FROM oceanbase."GV$OB_LOG_STAT" '
                "WHERE TENANT_ID = ? AND LS_ID = ?",
                (tid, ls_id),
            ).fetchall():
                if ServerAddr(ip, port) not in stopped and (in_sync == "YES" or not require_in_sync):
                    alive += 1
            if alive <= replica_num // 2:
                raise self._refuse(
                    address, statement, "stop server or zone with majority paxos members or log not in sync"
                )

    def _move_leaders_off(self, stopped: set[ServerAddr], *, require_in_sync: bool) -> None:
        rows = self.db.execute(
            'SELECT TENANT_ID, LS_ID, SVR_IP, SVR_PORT FROM oceanbase."GV$OB_LOG_STAT" '
            "WHERE ROLE = 'LEADER'"
        ).fetchall()
        for tid, ls_id, ip, port in rows:
            if ServerAddr(ip, port) not in stopped:
                continue
            candidates = [
                ServerAddr(i, p)
                for i, p, sync in self.db.execute(
                    'SELECT SVR_IP, SVR_PORT, IN_SYNC FROM oceanbase."GV$OB_LOG_STAT" WHERE TENANT_ID = ? '
                    "AND LS_ID = ? AND ROLE <> 'LEADER' ORDER BY SVR_IP",
                    (tid, ls_id),
                ).fetchall()
                if ServerAddr(i, p) not in stopped and (sync == "YES" or not require_in_sync)
            ]
            if not candidates:
                continue
            new = candidates[0]
            for table in ('"GV$OB_LOG_STAT"', "CDB_OB_LS_LOCATIONS"):
                self.db.execute(
                    f"UPDATE oceanbase.{table} SET ROLE = 'FOLLOWER' WHERE TENANT_ID = ? AND LS_ID = ? "
                    "AND SVR_IP = ? AND SVR_PORT = ?",
                    (tid, ls_id, ip, port),
                )
                self.db.execute(
                    f"UPDATE oceanbase.{table} SET ROLE = 'LEADER' WHERE TENANT_ID = ? AND LS_ID = ? "
                    "AND SVR_IP = ? AND SVR_PORT = ?",
                    (tid, ls_id, new.ip, new.rpc_port),
                )


class StandInSession:
    """One session on one stand-in server; implements obcp.ob.executor.SqlExecutor."""

    def __init__(self, cluster: Ob4StandIn, on: ServerAddr) -> None:
        self._cluster = cluster
        self._on = on

    @property
    def address(self) -> str:
        return f"{self._on.ip}:{SQL_PORT}"

    async def query(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> list[dict[str, Any]]:
        return self._cluster._run(self._on, sql, args)[0]

    async def execute(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> int:
        return self._cluster._run(self._on, sql, args)[1]


@dataclass
class StandInAgent:
    """The agent of one stand-in host (what obcp's steps ask of `AgentClient`); no process runs.

    `fail_starts` makes that many start calls fail as the real agent reports a start that failed;
    `on_start` runs after a successful start (a scripted event elsewhere in the cluster)."""

    cluster: Ob4StandIn
    addr: ServerAddr
    fail_starts: int = 0
    catch_up_reads: int = 2
    on_start: Callable[[], None] | None = None
    _generation: int = 1

    def _journal(self, action: str, observer: str) -> None:
        zone = self.cluster.zone_of(self.addr)
        state = f"zone {zone} {self.cluster.zone_status(zone)}, {self.cluster.leaders_in(zone)} leaders"
        what = f"AGENT {action} {self.addr.ip} ({state})"
        self.cluster.statements.append((f"agent@{self.addr.ip}", what))

    async def status(self, observer: str, *, ports: bool = True) -> dict[str, Any]:
        if self.addr in self.cluster.down:
            return {"name": observer, "running": False}
        return {
            "name": observer,
            "running": True,
            "pid": 40000 + self._generation,
            "startedAt": f"generation-{self._generation}",
        }

    async def stop(self, observer: str) -> dict[str, Any]:
        self._journal("STOP", observer)
        if self.addr not in self.cluster.down:
            self.cluster.kill_server(self.addr)
        return {"message": f"observer {observer} stopped (stand-in)"}

    async def start(self, observer: str) -> dict[str, Any]:
        self._journal("START", observer)
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise AgentError(
                f"{self.addr.ip}:2886",
                f"start observer {observer}",
                f"observer {observer} exited during start (stand-in scripted failure)",
                status_code=500,
                code="start_failed",
                observer=observer,
            )
        if self.addr not in self.cluster.down:
            return {"message": f"observer {observer} is already running"}
        self._generation += 1
        self.cluster.start_server_process(self.addr)
        addr = self.addr
        self.cluster.after_reads("GV$OB_LOG_STAT", self.catch_up_reads, lambda: self.cluster.catch_up(addr))
        self.cluster.after_reads("GV$OB_SERVER_SCHEMA_INFO", 1, lambda: self.cluster.refresh_schema(addr))
        if self.on_start is not None:
            self.on_start()
        return {"message": f"observer {observer} started (stand-in)"}

    async def aclose(self) -> None:
        return None
