"""A described topology (a deployment file's servers) read back from the observers themselves, and every
difference between the two, each named in a sentence.

Distributed 4.x: any observer's `DBA_OB_SERVERS` is the whole cluster, so a server the file lists and
the cluster does not know is found, and the reverse. Standalone observers (seekdb, and the stand-in
OceanBase homes of the tests, which are seekdb) each know only themselves and report no zone: each must
answer at its address and report its own SQL port; the zones are the file's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obcp.ob.connection import Connector, ObEndpoint, ObTimeouts
from obcp.ob.errors import ObSqlError
from obcp.ob.topology import ObTopology, read_topology

READ_BACK_TIMEOUTS = ObTimeouts(connect=5.0, read=15.0)


@dataclass(frozen=True)
class DescribedServer:
    """A server as a deployment describes it."""

    name: str
    address: str
    sql_port: int
    rpc_port: int
    zone: str

    def __str__(self) -> str:
        return f"{self.name} ({self.address}:{self.sql_port}, zone {self.zone})"


@dataclass(frozen=True)
class ReadBack:
    """What one described server's address answered: its view of the topology, or why there was none."""

    server: DescribedServer
    topology: ObTopology | None
    error: str | None = None


async def read_back(servers: Sequence[DescribedServer], password: str, connect: Connector) -> list[ReadBack]:
    """Logs in as root@sys at every described server and reads the topology it reports."""
    results = []
    for server in servers:
        endpoint = ObEndpoint(server.address, server.sql_port, password)
        try:
            async with connect(endpoint, READ_BACK_TIMEOUTS) as ex:
                results.append(ReadBack(server, await read_topology(ex)))
        except ObSqlError as exc:  # refused, unreachable, wrong password, a statement that failed
            results.append(ReadBack(server, None, str(exc)))
    return results


def differences(results: Sequence[ReadBack]) -> list[str]:
    """Every way the described servers and what the observers report disagree; empty when they agree."""
    found = [f"{r.server}: no observer answers as root@sys: {r.error}" for r in results if r.error]
    answered = [r for r in results if r.topology is not None]
    distributed = [r for r in answered if r.topology is not None and r.topology.capability.distributed]
    standalone = [r for r in answered if r not in distributed]
    if distributed and standalone:
        names = ", ".join(str(r.server) for r in standalone)
        found.append(f"{names} answer as standalone observers, the others as one distributed cluster")
    if distributed:
        found += _distributed_differences([r.server for r in results], distributed)
    for r in standalone:
        assert r.topology is not None
        ports = sorted(s.sql_port for s in r.topology.servers)
        if ports != [r.server.sql_port]:
            found.append(f"{r.server}: the observer answering there reports SQL port(s) {ports}")
    return found


def _distributed_differences(described: Sequence[DescribedServer], answered: Sequence[ReadBack]) -> list[str]:
    first = answered[0]
    assert first.topology is not None
    source = f"DBA_OB_SERVERS as {first.server.address}:{first.server.sql_port} reports it"
    actual = {(s.ip, s.rpc_port): s for s in first.topology.servers}
    found = []
    for d in described:
        where = f"{d.name} ({d.address}:{d.rpc_port})"
        s = actual.get((d.address, d.rpc_port))
        if s is None:
            found.append(f"{d} (RPC port {d.rpc_port}) is in the file but not in the cluster ({source})")
            continue
        if s.zone != d.zone:
            found.append(f"{where}: the file puts it in zone {d.zone}, the cluster in zone {s.zone}")
        if s.sql_port != d.sql_port:
            found.append(f"{where}: the file gives SQL port {d.sql_port}, the cluster {s.sql_port}")
    listed = {(d.address, d.rpc_port) for d in described}
    for key, s in actual.items():
        if key not in listed:
            found.append(
                f"the cluster has {s.ip}:{s.rpc_port} (SQL port {s.sql_port}, zone {s.zone}), "
                "which the file does not list"
            )
    return found
