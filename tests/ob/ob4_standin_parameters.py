"""The parameter and minor-freeze part of the scripted 4.x stand-in (tests/ob/ob4_standin.py); not a real
cluster.

Reproduced, with OceanBase 4.x's column names: `GV$OB_PARAMETERS` (one row per server and parameter,
SCOPE CLUSTER, plus a TENANT-scope row that cluster reads must leave out) and `GV$OB_SSTABLES`.
`ALTER SYSTEM SET name = 'v' [SERVER = 'ip:port']` changes a DYNAMIC_EFFECTIVE parameter at once and
a STATIC_EFFECTIVE one only when that server's process starts again (what seekdb does, measured); an
unknown name fails with 5099 "System config unknown", a value out of range with 4147 "Invalid config".
`ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = ('ip:port')` turns that server's memtables frozen; they
are dumped (gone) after `freeze_reads` reads of GV$OB_SSTABLES, and its log streams' checkpoint
(`__all_virtual_ls_info.checkpoint_scn`, one behind the log's END_SCN from the freeze on) reaches the end of
the log after `checkpoint_reads` more reads of that view. Range checks of the stand-in are its own
(an INT's bounds only), not OceanBase's.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence

from obcp.ob.errors import ObSqlError, describe_sql
from obcp.ob.topology import ServerAddr

PARAMETER_SCHEMA = """
CREATE TABLE oceanbase."GV$OB_PARAMETERS" (SVR_IP TEXT, SVR_PORT INTEGER, ZONE TEXT, SCOPE TEXT,
  TENANT_ID INTEGER, NAME TEXT, DATA_TYPE TEXT, VALUE TEXT, INFO TEXT, SECTION TEXT, EDIT_LEVEL TEXT,
  DEFAULT_VALUE TEXT, ISDEFAULT TEXT);
CREATE TABLE oceanbase."GV$OB_SSTABLES" (SVR_IP TEXT, SVR_PORT INTEGER, TENANT_ID INTEGER, LS_ID INTEGER,
  TABLE_TYPE TEXT, TABLET_ID INTEGER, START_LOG_SCN INTEGER, IS_ACTIVE TEXT, SIZE INTEGER);
CREATE TABLE oceanbase.standin_checkpoint_lag (SVR_IP TEXT, SVR_PORT INTEGER, LAG INTEGER);
CREATE VIEW oceanbase.__all_virtual_ls_info AS SELECT l.SVR_IP AS svr_ip, l.SVR_PORT AS svr_port,
  l.TENANT_ID AS tenant_id, l.LS_ID AS ls_id, l.END_SCN - COALESCE((SELECT MAX(g.LAG)
  FROM standin_checkpoint_lag g WHERE g.SVR_IP = l.SVR_IP AND g.SVR_PORT = l.SVR_PORT), 0) AS checkpoint_scn
  FROM "GV$OB_LOG_STAT" l;
"""

# (name, type, value, info, edit level, scope)
PARAMETERS = [
    ("net_thread_count", "INT", "0", "the number of I/O threads. Range: [0, 128] in integer",
     "STATIC_EFFECTIVE", "CLUSTER"),
    ("cpu_count", "INT", "0", "the number of CPU's. Range: [0,+∞) in integer", "DYNAMIC_EFFECTIVE",
     "CLUSTER"),
    ("syslog_level", "STRING", "WDIAG", "the current level of logging", "DYNAMIC_EFFECTIVE", "CLUSTER"),
    ("server_create_time", "INT", "1", "the first time this server created", "READONLY", "CLUSTER"),
    ("log_disk_utilization_threshold", "INT", "80", "Range: [10, 100)", "DYNAMIC_EFFECTIVE", "TENANT"),
]  # fmt: skip

_SET = re.compile(r"^ALTER SYSTEM SET ([A-Za-z0-9_]+) = %s( SERVER = %s)?$", re.IGNORECASE)
_FREEZE = re.compile(r"^ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = \(%s\)$", re.IGNORECASE)
_INT_RANGE = re.compile(r"Range: \[(\d+), (\d+)\]")


class ParameterScripts:
    """Mixed into Ob4StandIn; uses its `db`, `servers`, `zone_of`, `after_reads` and `statements`."""

    db: sqlite3.Connection
    servers: list[ServerAddr]
    freeze_reads: int = 2
    checkpoint_reads: int = 2
    fail_freeze: bool = False
    pending_static: dict[tuple[ServerAddr, str], str]

    def zone_of(self, addr: ServerAddr) -> str:
        raise NotImplementedError

    def after_reads(self, view: str, reads: int, action: Callable[[], None]) -> None:
        raise NotImplementedError

    def _populate_parameters(self) -> None:
        self.pending_static = {}
        for addr in self.servers:
            for name, kind, value, info, level, scope in PARAMETERS:
                self.db.execute(
                    'INSERT INTO oceanbase."GV$OB_PARAMETERS" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '
                    "'OBSERVER', ?, ?, 'YES')",
                    (addr.ip, addr.rpc_port, self.zone_of(addr), scope, 1002 if scope == "TENANT" else None,
                     name, kind, value, info, level, value),
                )  # fmt: skip
            self.db.execute(
                "INSERT INTO oceanbase.\"GV$OB_SSTABLES\" VALUES (?, ?, 1002, 1001, 'MEMTABLE', 200001, 1, "
                "'YES', 4096)",
                (addr.ip, addr.rpc_port),
            )

    def parameter_value(self, addr: ServerAddr, name: str) -> str:
        row = self.db.execute(
            'SELECT VALUE FROM oceanbase."GV$OB_PARAMETERS" WHERE SVR_IP = ? AND SVR_PORT = ? AND NAME = ?',
            (addr.ip, addr.rpc_port, name),
        ).fetchone()
        return str(row[0])

    def apply_static(self, addr: ServerAddr) -> None:
        """The process of `addr` started: its pending static values are now in effect."""
        for (server, name), value in list(self.pending_static.items()):
            if server == addr:
                self._write_value([addr], name, value)
                del self.pending_static[(server, name)]

    def _write_value(self, addrs: Sequence[ServerAddr], name: str, value: str) -> None:
        for addr in addrs:
            self.db.execute(
                "UPDATE oceanbase.\"GV$OB_PARAMETERS\" SET VALUE = ?, ISDEFAULT = 'NO' WHERE SVR_IP = ? "
                "AND SVR_PORT = ? AND NAME = ?",
                (value, addr.ip, addr.rpc_port, name),
            )

    def parameter_statement(self, address: str, text: str, args: Sequence[object]) -> bool:
        """Runs an ALTER SYSTEM SET or MINOR FREEZE; False when `text` is neither."""
        statement = describe_sql(text, args)
        m = _SET.match(text)
        if m:
            targets = self.servers
            if m.group(2):
                ip, port = str(args[1]).rsplit(":", 1)
                targets = [ServerAddr(ip, int(port))]
            self._set(address, statement, m.group(1), str(args[0]), targets)
            return True
        if _FREEZE.match(text):
            if self.fail_freeze:
                raise ObSqlError(address, statement, 4023, "minor freeze failed (stand-in scripted failure)")
            ip, port = str(args[0]).strip("'").rsplit(":", 1)
            self._freeze(ServerAddr(ip, int(port)))
            return True
        return False

    def _set(self, address: str, statement: str, name: str, value: str, targets: list[ServerAddr]) -> None:
        row = self.db.execute(
            'SELECT DATA_TYPE, INFO, EDIT_LEVEL FROM oceanbase."GV$OB_PARAMETERS" WHERE NAME = ? '
            "AND SCOPE = 'CLUSTER' LIMIT 1",
            (name,),
        ).fetchone()
        if row is None:
            raise ObSqlError(address, statement, 5099, "System config unknown")
        kind, info, level = row
        bounds = _INT_RANGE.search(info)
        if level == "READONLY" or (kind == "INT" and not value.lstrip("-").isdigit()):
            raise ObSqlError(address, statement, 4147, "Invalid config")
        if bounds and not int(bounds.group(1)) <= int(value) <= int(bounds.group(2)):
            raise ObSqlError(address, statement, 4147, "Invalid config")
        if level == "STATIC_EFFECTIVE":
            for addr in targets:
                self.pending_static[(addr, name)] = value
            return
        self._write_value(targets, name, value)

    def _freeze(self, addr: ServerAddr) -> None:
        self.db.execute(
            "INSERT INTO oceanbase.standin_checkpoint_lag VALUES (?, ?, 1)", (addr.ip, addr.rpc_port)
        )

        def checkpointed() -> None:
            self.db.execute(
                "DELETE FROM oceanbase.standin_checkpoint_lag WHERE SVR_IP = ? AND SVR_PORT = ?",
                (addr.ip, addr.rpc_port),
            )

        self.after_reads("__all_virtual_ls_info", self.checkpoint_reads, checkpointed)
        self.db.execute(
            "UPDATE oceanbase.\"GV$OB_SSTABLES\" SET IS_ACTIVE = 'NO' WHERE SVR_IP = ? AND SVR_PORT = ? "
            "AND TABLE_TYPE = 'MEMTABLE'",
            (addr.ip, addr.rpc_port),
        )

        def dumped() -> None:
            self.db.execute(
                "UPDATE oceanbase.\"GV$OB_SSTABLES\" SET TABLE_TYPE = 'MINI' WHERE SVR_IP = ? "
                "AND SVR_PORT = ? AND TABLE_TYPE = 'MEMTABLE' AND IS_ACTIVE = 'NO'",
                (addr.ip, addr.rpc_port),
            )
            # The fresh active memtable starts where the dumped one ended: a start SCN not seen before.
            self.db.execute(
                "INSERT INTO oceanbase.\"GV$OB_SSTABLES\" SELECT ?, ?, 1002, 1001, 'MEMTABLE', 200001, "
                "MAX(START_LOG_SCN) + 1, 'YES', 0 FROM oceanbase.\"GV$OB_SSTABLES\" WHERE SVR_IP = ? "
                "AND SVR_PORT = ?",
                (addr.ip, addr.rpc_port, addr.ip, addr.rpc_port),
            )

        self.after_reads("GV$OB_SSTABLES", self.freeze_reads, dumped)
