"""SIMULATED observers for the fleet benchmark: not real OceanBase, not real processes.

Each simulated cluster is the scripted 4.x stand-in of the test suite (tests/ob/ob4_standin.py: its
sys-tenant views are SQLite tables that answer obcp's SELECTs unchanged, its ALTER SYSTEM STOP/START
ZONE/SERVER refuse what would lose a majority) widened to Z zones x S servers: every log stream has one
replica per zone, and START_SERVICE_TIME is the wall clock's when a simulated start ends. Each observer is a
small state machine (RUNNING, STOPPING, STOPPED, STARTING) whose stop and start take times drawn, seeded,
from the distributions measured on real seekdb here (docs/benchmarks.md): what the simulated agent answers
and what the SQL views say always agree, because both read the same machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.ob.ob4_standin import (
    RPC_PORT,
    Ob4StandIn,
    _time_to_usec,
)

from obcp.ob.topology import ServerAddr

SQL_PORT = 2881
OBSERVER_NAME = "observer"


@dataclass(frozen=True)
class Timings:
    """Uniform ranges in seconds: start ~1.7-2.6 s, stop ~0.05-0.1 s (seekdb, measured here)."""

    start_min: float = 1.7
    start_max: float = 2.6
    stop_min: float = 0.05
    stop_max: float = 0.1


@dataclass(frozen=True)
class Faults:
    """Fault injection: observers whose next start fails, hosts whose agent never answers."""

    failing_starts: frozenset[str] = frozenset()
    hung_agents: frozenset[str] = frozenset()


def host_address(index: int) -> str:
    """The i-th simulated host: 127.0.1.1 … 127.0.12.250 (the loopback block this benchmark owns)."""
    third, fourth = divmod(index, 250)
    if third >= 12:
        raise ValueError("at most 3,000 simulated hosts (127.0.1.1-127.0.12.250)")
    return f"127.0.{third + 1}.{fourth + 1}"


def agent_key(seed: int, address: str) -> str:
    """Each simulated host's agent key, derived from the seed (the driver registers the same)."""
    return hashlib.sha256(f"fleet-{seed}-{address}".encode()).hexdigest()[:32]


def _ts(epoch_us: int) -> str:
    return dt.datetime.fromtimestamp(epoch_us / 1e6, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Journal(list[tuple[str, str]]):
    """The stand-in journals every statement; at fleet scale only ALTER SYSTEM and agent actions are kept."""

    def append(self, item: tuple[str, str]) -> None:
        if item[1].startswith(("ALTER SYSTEM", "AGENT ")):
            super().append(item)


@dataclass
class SimulatedCluster(Ob4StandIn):
    """A simulated distributed cluster of `zones` x `per_zone` servers at the given addresses."""

    addresses: Sequence[str] = ()
    per_zone: int = 1

    def __post_init__(self) -> None:
        self.statements = _Journal()
        self._open_views(threads=True)
        self.servers = [ServerAddr(a, RPC_PORT) for a in self.addresses]
        self._zone = {a: self.zones[i // self.per_zone] for i, a in enumerate(self.servers)}
        # Log streams: sys, meta and the user tenant's first on each zone's first server, then one user
        # log stream per server index, with a replica on that index in every zone.
        self.placement: dict[tuple[int, int], list[ServerAddr]] = {}
        for tid, ls_id in ((1, 1), (1001, 1), (1002, 1)):
            self.placement[(tid, ls_id)] = self._column(0)
        for k in range(self.per_zone):
            self.placement[(1002, 1001 + k)] = self._column(k)
        self._populate()

    def _column(self, k: int) -> list[ServerAddr]:
        return [self.servers[z * self.per_zone + k] for z in range(len(self.zones))]

    def zone_of(self, addr: ServerAddr) -> str:
        return self._zone[addr]

    def _populate(self) -> None:
        now = self._now()
        for zone in self.zones:
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_ZONES VALUES (?, ?, ?, 'ACTIVE', 'idc1', 'sys_region', "
                "'ReadWrite')",
                (zone, now, now),
            )
        started = _ts(int(time.time() * 1e6))
        for i, addr in enumerate(self.servers):
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_SERVERS VALUES (?, ?, ?, ?, ?, ?, 'ACTIVE', ?, NULL, NULL, "
                "?, ?, "
                "'4.2.1.2_102010012023120119-3b2e4ba0(Dec  1 2023 19:37:05)', NULL)",
                (addr.ip, addr.rpc_port, i + 1, self.zone_of(addr), SQL_PORT, "YES" if i == 0 else "NO",
                 started, now, now),
            )  # fmt: skip
        locality = ", ".join(f"FULL{{1}}@{z}" for z in self.zones)
        for tid, name, kind in ((1, "sys", "SYS"), (1001, "META$1002", "META"), (1002, "obcp_t1", "USER")):
            self.db.execute(
                "INSERT INTO oceanbase.DBA_OB_TENANTS VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'MYSQL', 'NORMAL', "
                "'NO', 'NO', 'PRIMARY', 'NORMAL', 'NOARCHIVELOG', ?, '4.2.1.2', 1001)",
                (tid, name, kind, now, now, ";".join(self.zones), locality, self.per_zone),
            )
        for i, addr in enumerate(self.servers):
            for tid in (1, 1002):
                self.db.execute(
                    "INSERT INTO oceanbase.DBA_OB_UNITS (UNIT_ID, TENANT_ID, STATUS, ZONE, SVR_IP, SVR_PORT) "
                    "VALUES (?, ?, 'ACTIVE', ?, ?, ?)",
                    (100000 * tid + i, tid, self.zone_of(addr), addr.ip, addr.rpc_port),
                )
            self._set_schema(addr, refreshed=True)
        for (tid, ls_id), members in self.placement.items():
            for addr in members:
                self._replica(tid, ls_id, addr, leader=addr == members[0])
        self._populate_parameters()

    def _replica(self, tid: int, ls_id: int, addr: ServerAddr, *, leader: bool) -> None:
        members = self.placement[(tid, ls_id)]
        member_list = ",".join(f"{a}:1" for a in members)
        role = "LEADER" if leader else "FOLLOWER"
        self.db.execute(
            'INSERT INTO oceanbase."GV$OB_LOG_STAT" VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, \'YES\', '
            "0, 0, 1, 100, 2, 100, 2, '', '', '')",
            (tid, ls_id, addr.ip, addr.rpc_port, role, "proposal_id:1, config_seq:1",
             "APPEND" if leader else "RAW_WRITE", member_list, len(members)),
        )  # fmt: skip
        self.db.execute(
            "INSERT INTO oceanbase.CDB_OB_LS_LOCATIONS VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'FULL', '', "
            "'FALSE')",
            (tid, ls_id, addr.ip, addr.rpc_port, SQL_PORT, self.zone_of(addr), role,
             member_list if leader else "", len(members)),
        )  # fmt: skip

    def start_server_process(self, addr: ServerAddr) -> int:
        """The simulated observer serves again: a new START_SERVICE_TIME (the wall clock's), its replicas
        back and in sync, its schema refreshed — the catch-up is part of the drawn start time."""
        self.down.discard(addr)
        stamp = int(time.time() * 1e6)
        self.db.execute(
            "UPDATE oceanbase.DBA_OB_SERVERS SET STATUS = 'ACTIVE', START_SERVICE_TIME = ? "
            "WHERE SVR_IP = ? AND SVR_PORT = ?",
            (_ts(stamp), addr.ip, addr.rpc_port),
        )
        for (tid, ls_id), members in self.placement.items():
            if addr in members:
                self.db.execute(
                    "DELETE FROM oceanbase.CDB_OB_LS_LOCATIONS WHERE TENANT_ID = ? AND LS_ID = ? "
                    "AND SVR_IP = ? AND SVR_PORT = ?",
                    (tid, ls_id, addr.ip, addr.rpc_port),
                )
                self._replica(tid, ls_id, addr, leader=False)
        self.apply_static(addr)
        return stamp

    def _freeze(self, addr: ServerAddr) -> None:
        """A minor freeze's dump is done when the statement returns: its duration is not simulated (the
        critical path counts stops and starts only)."""
        super()._freeze(addr)
        self.hooks.pop().action()

    def service_time(self, addr: ServerAddr) -> int | None:
        row = self.db.execute(
            "SELECT START_SERVICE_TIME FROM oceanbase.DBA_OB_SERVERS WHERE SVR_IP = ? AND SVR_PORT = ?",
            (addr.ip, addr.rpc_port),
        ).fetchone()
        return _time_to_usec(row[0]) if row and row[0] else None


@dataclass
class Restart:
    """One stop + start of a simulated observer, as the state machine lived it (monotonic seconds)."""

    stop_at: float
    stop_seconds: float
    start_at: float | None = None
    start_seconds: float | None = None
    service_time_before: int | None = None
    service_time_after: int | None = None


@dataclass
class SimulatedObserver:
    """The state machine of one simulated observer, behind its host's simulated agent."""

    address: str
    cluster: SimulatedCluster
    rng: random.Random
    timings: Timings
    fail_next_start: bool = False
    state: str = "RUNNING"
    pid: int = 0
    started_at: str = ""
    restarts: list[Restart] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._new_process()

    @property
    def addr(self) -> ServerAddr:
        return ServerAddr(self.address, RPC_PORT)

    def _new_process(self) -> None:
        self.pid = self.rng.randint(10_000, 4_000_000)
        self.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": OBSERVER_NAME,
            "kind": "simulated",
            "host": self.address,
            "sqlPort": SQL_PORT,
            "initialised": True,
            "running": self.state in ("RUNNING", "STOPPING"),
        }
        if self.state in ("STOPPING", "STARTING"):
            result["operation"] = self.state.lower()
        if result["running"]:
            result.update(pid=self.pid, startedAt=self.started_at)
        return result

    async def stop(self) -> tuple[bool, float, str]:
        async with self.lock:
            if self.state != "RUNNING":
                return False, 0.0, f"observer {OBSERVER_NAME} is not running (simulation)"
            seconds = self.rng.uniform(self.timings.stop_min, self.timings.stop_max)
            restart = Restart(
                time.monotonic(), seconds, service_time_before=self.cluster.service_time(self.addr)
            )
            self.restarts.append(restart)
            self.state = "STOPPING"
            await asyncio.sleep(seconds)
            self.cluster.kill_server(self.addr)
            self.state = "STOPPED"
            return True, seconds, f"observer {OBSERVER_NAME} stopped (simulation)"

    async def start(self) -> tuple[bool, float, str | None]:
        """(changed, seconds, None) or (False, seconds, why it failed)."""
        async with self.lock:
            if self.state == "RUNNING":
                return False, 0.0, None
            seconds = self.rng.uniform(self.timings.start_min, self.timings.start_max)
            self.state = "STARTING"
            began = time.monotonic()
            if self.fail_next_start:
                self.fail_next_start = False
                await asyncio.sleep(seconds / 2)
                self.state = "STOPPED"
                return False, seconds / 2, "observer exited during start (simulated fault)"
            await asyncio.sleep(seconds)
            stamp = self.cluster.start_server_process(self.addr)
            self._new_process()
            self.state = "RUNNING"
            if self.restarts and self.restarts[-1].start_at is None:
                last = self.restarts[-1]
                last.start_at, last.start_seconds, last.service_time_after = began, seconds, stamp
            return True, seconds, None


@dataclass
class Fleet:
    """Every simulated cluster and observer, by host address."""

    observers: dict[str, SimulatedObserver]
    clusters: list[SimulatedCluster]
    cluster_of: dict[str, SimulatedCluster]
    hung: frozenset[str]


def build_fleet(
    clusters: int, zones: int, per_zone: int, seed: int, timings: Timings, faults: Faults
) -> Fleet:
    observers: dict[str, SimulatedObserver] = {}
    built: list[SimulatedCluster] = []
    cluster_of: dict[str, SimulatedCluster] = {}
    index = 0
    for _ in range(clusters):
        addresses = [host_address(index + i) for i in range(zones * per_zone)]
        index += len(addresses)
        zone_names = [f"zone{z + 1}" for z in range(zones)]
        cluster = SimulatedCluster(zones=zone_names, addresses=addresses, per_zone=per_zone)
        built.append(cluster)
        for address in addresses:
            rng = random.Random(f"{seed}-{address}")
            observers[address] = SimulatedObserver(
                address, cluster, rng, timings, fail_next_start=address in faults.failing_starts
            )
            cluster_of[address] = cluster
    return Fleet(observers, built, cluster_of, faults.hung_agents)
