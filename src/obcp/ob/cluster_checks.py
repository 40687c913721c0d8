"""Read-only checks of a distributed OceanBase 4.x cluster (sys tenant views).

The SQL follows what obshell's rolling upgrade and obd's 4.x restart run: servers ACTIVE / not stopped /
serving from DBA_OB_SERVERS, `IN_SYNC` from GV$OB_LOG_STAT, schema refresh from GV$OB_SERVER_SCHEMA_INFO,
the majority-after-stop rule over each log stream's leader row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from obcp.ob.executor import Row, SqlExecutor
from obcp.ob.topology import ObServer, ServerAddr, server_from_row

SERVER_ROW_SQL = (
    "SELECT SVR_IP, SVR_PORT, SQL_PORT, ZONE, WITH_ROOTSERVER, STATUS, "
    "TIME_TO_USEC(START_SERVICE_TIME) AS START_SERVICE_TIME, TIME_TO_USEC(STOP_TIME) AS STOP_TIME, "
    "BUILD_VERSION FROM oceanbase.DBA_OB_SERVERS WHERE SVR_IP = %s AND SVR_PORT = %s"
)
UNHEALTHY_SERVERS_SQL = (
    "SELECT SVR_IP, SVR_PORT, ZONE, STATUS, STOP_TIME, START_SERVICE_TIME FROM oceanbase.DBA_OB_SERVERS "
    "WHERE STATUS <> 'ACTIVE' OR STOP_TIME IS NOT NULL OR START_SERVICE_TIME IS NULL"
)
INACTIVE_ZONES_SQL = "SELECT ZONE, STATUS FROM oceanbase.DBA_OB_ZONES WHERE STATUS <> 'ACTIVE'"
NOT_IN_SYNC_SQL = (
    "SELECT TENANT_ID, LS_ID, SVR_IP, SVR_PORT FROM oceanbase.GV$OB_LOG_STAT WHERE IN_SYNC = 'NO' "
    "ORDER BY TENANT_ID, LS_ID, SVR_IP, SVR_PORT"
)
LOG_STAT_SQL = (
    "SELECT TENANT_ID, LS_ID, SVR_IP, SVR_PORT, ROLE, PAXOS_MEMBER_LIST, PAXOS_REPLICA_NUM, IN_SYNC "
    "FROM oceanbase.GV$OB_LOG_STAT ORDER BY TENANT_ID, LS_ID"
)
ZONE_SERVERS_SQL = "SELECT SVR_IP, SVR_PORT FROM oceanbase.DBA_OB_SERVERS WHERE ZONE = %s"
# Tenants expected on a server: sys everywhere, others where they have a unit. Meta tenants share their
# user tenant's units and are not listed separately in DBA_OB_UNITS, so they are left out.
UNREFRESHED_SCHEMA_SQL = (
    "SELECT t.TENANT_ID AS TENANT_ID, t.TENANT_NAME AS TENANT_NAME, "
    "s.REFRESHED_SCHEMA_VERSION AS REFRESHED_SCHEMA_VERSION "
    "FROM oceanbase.DBA_OB_TENANTS t LEFT JOIN oceanbase.GV$OB_SERVER_SCHEMA_INFO s "
    "ON s.TENANT_ID = t.TENANT_ID AND s.SVR_IP = %s AND s.SVR_PORT = %s "
    "WHERE t.TENANT_TYPE <> 'META' AND (t.TENANT_ID = 1 OR t.TENANT_ID IN "
    "(SELECT u.TENANT_ID FROM oceanbase.DBA_OB_UNITS u WHERE u.SVR_IP = %s AND u.SVR_PORT = %s)) "
    "ORDER BY t.TENANT_ID"
)
LEADERS_IN_ZONE_SQL = (
    "SELECT COUNT(*) AS N FROM oceanbase.CDB_OB_LS_LOCATIONS WHERE ROLE = 'LEADER' AND ZONE = %s"
)
LEADERS_ON_SERVER_SQL = (
    "SELECT COUNT(*) AS N FROM oceanbase.CDB_OB_LS_LOCATIONS "
    "WHERE ROLE = 'LEADER' AND SVR_IP = %s AND SVR_PORT = %s"
)


async def server_row(ex: SqlExecutor, addr: ServerAddr) -> ObServer | None:
    rows = await ex.query(SERVER_ROW_SQL, (addr.ip, addr.rpc_port))
    return server_from_row(rows[0]) if rows else None


async def not_in_sync_replicas(ex: SqlExecutor, servers: Sequence[ServerAddr] | None = None) -> list[str]:
    """Replicas with IN_SYNC='NO', as "tenant T LS L on ip:port", optionally only on `servers`."""
    wanted = set(servers) if servers is not None else None
    out = []
    for r in await ex.query(NOT_IN_SYNC_SQL):
        addr = ServerAddr(str(r["SVR_IP"]), int(r["SVR_PORT"]))
        if wanted is None or addr in wanted:
            out.append(f"tenant {r['TENANT_ID']} LS {r['LS_ID']} on {addr}")
    return out


async def unrefreshed_tenants(ex: SqlExecutor, addr: ServerAddr) -> list[str]:
    """Tenants whose schema is not refreshed on `addr` (REFRESHED_SCHEMA_VERSION missing or <= 1)."""
    rows = await ex.query(UNREFRESHED_SCHEMA_SQL, (addr.ip, addr.rpc_port, addr.ip, addr.rpc_port))
    out = []
    for r in rows:
        version = r.get("REFRESHED_SCHEMA_VERSION")
        if version is None or int(version) <= 1:
            out.append(f"{r['TENANT_NAME']} (id {r['TENANT_ID']})")
    return out


async def zone_servers(ex: SqlExecutor, zone: str) -> set[ServerAddr]:
    return {
        ServerAddr(str(r["SVR_IP"]), int(r["SVR_PORT"])) for r in await ex.query(ZONE_SERVERS_SQL, (zone,))
    }


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    problems: tuple[str, ...]
    applicable: bool = True

    def describe(self) -> str:
        if not self.applicable:
            return "standalone server: distributed health gate not applicable"
        return "cluster healthy" if self.healthy else "cluster not healthy: " + "; ".join(self.problems)


async def health_gate(ex: SqlExecutor, *, ignore_zones: Iterable[str] = ()) -> HealthReport:
    """Every server ACTIVE, not stopped and serving; every zone ACTIVE; no replica out of sync."""
    ignored = set(ignore_zones)
    problems: list[str] = []
    for r in await ex.query(UNHEALTHY_SERVERS_SQL):
        if r["ZONE"] in ignored:
            continue
        why = []
        if r["STATUS"] != "ACTIVE":
            why.append(f"status {r['STATUS']}")
        if r["STOP_TIME"] is not None:
            why.append("stopped (STOP_TIME set)")
        if r["START_SERVICE_TIME"] is None:
            why.append("not serving (START_SERVICE_TIME NULL)")
        problems.append(f"server {r['SVR_IP']}:{r['SVR_PORT']} in {r['ZONE']}: " + ", ".join(why))
    for r in await ex.query(INACTIVE_ZONES_SQL):
        if r["ZONE"] not in ignored:
            problems.append(f"zone {r['ZONE']} is {r['STATUS']}")
    lagging = await not_in_sync_replicas(ex)
    if lagging:
        shown = ", ".join(lagging[:5]) + (f" and {len(lagging) - 5} more" if len(lagging) > 5 else "")
        problems.append(f"{len(lagging)} log stream replica(s) not in sync: {shown}")
    return HealthReport(not problems, tuple(problems))


@dataclass(frozen=True)
class LsShortfall:
    tenant_id: int
    ls_id: int
    survivors: int
    replica_num: int
    reason: str

    def describe(self) -> str:
        return f"tenant {self.tenant_id} LS {self.ls_id}: {self.reason}"


def parse_member_list(text: object) -> set[ServerAddr]:
    """PAXOS_MEMBER_LIST is "ip:port:timestamp,ip:port:timestamp"."""
    members = set()
    for item in str(text or "").split(","):
        parts = item.strip().split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            members.add(ServerAddr(parts[0], int(parts[1])))
    return members


def majority_shortfalls(
    log_rows: Sequence[Row], stopped: set[ServerAddr], *, require_in_sync: bool = True
) -> list[LsShortfall]:
    """Log streams that would lose their majority if `stopped` went down.

    For each log stream with a member in `stopped`, count the members named in the leader's
    PAXOS_MEMBER_LIST that are outside `stopped` and report a replica row, IN_SYNC='YES' unless
    `require_in_sync` is off (FORCE STOP skips the log-sync condition); more than PAXOS_REPLICA_NUM / 2
    (integer division, as obshell does) must remain. The leader itself always counts as in sync.
    """
    by_ls: dict[tuple[int, int], list[Row]] = {}
    for r in log_rows:
        by_ls.setdefault((int(r["TENANT_ID"]), int(r["LS_ID"])), []).append(r)
    out = []
    for (tenant_id, ls_id), rows in sorted(by_ls.items()):
        hosts = {ServerAddr(str(r["SVR_IP"]), int(r["SVR_PORT"])): r for r in rows}
        leader = next((r for r in rows if str(r["ROLE"]).upper() == "LEADER"), None)
        if leader is None:
            if stopped & hosts.keys():
                out.append(LsShortfall(tenant_id, ls_id, 0, 0, "has no leader now"))
            continue
        members = parse_member_list(leader["PAXOS_MEMBER_LIST"])
        if not members & stopped:
            continue
        replica_num = int(leader["PAXOS_REPLICA_NUM"])
        survivors = 0
        for member in members - stopped:
            row = hosts.get(member)
            if row is None:
                continue
            is_leader = row is leader
            if is_leader or not require_in_sync or str(row["IN_SYNC"]).upper() == "YES":
                survivors += 1
        needed = replica_num // 2 + 1
        if survivors < needed:
            out.append(
                LsShortfall(
                    tenant_id,
                    ls_id,
                    survivors,
                    replica_num,
                    f"{survivors} of {replica_num} paxos members would remain "
                    f"{'in sync ' if require_in_sync else ''}(a majority needs {needed})",
                )
            )
    return out


async def check_majority_after_stop(
    ex: SqlExecutor, stopped: set[ServerAddr], *, require_in_sync: bool = True
) -> list[LsShortfall]:
    return majority_shortfalls(await ex.query(LOG_STAT_SQL), stopped, require_in_sync=require_in_sync)


async def leaders_in_zone(ex: SqlExecutor, zone: str) -> int:
    rows = await ex.query(LEADERS_IN_ZONE_SQL, (zone,))
    return int(rows[0]["N"]) if rows else 0


async def leaders_on_server(ex: SqlExecutor, addr: ServerAddr) -> int:
    rows = await ex.query(LEADERS_ON_SERVER_SQL, (addr.ip, addr.rpc_port))
    return int(rows[0]["N"]) if rows else 0
