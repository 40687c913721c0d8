"""Every server's parameter values and START_SERVICE_TIME, read live from the cluster.

A distributed cluster answers for all its servers on one sys-tenant session (GV$OB_PARAMETERS,
DBA_OB_SERVERS); standalone servers (seekdb) are each their own observer, so each is asked on its own
session, side by side. Servers are named by their inventory id: the sandbox's seekdb servers all call
themselves 127.0.0.1:2882.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.inventory import ServerRef
from obcp.ob.capability import ObCapability, detect_capability
from obcp.ob.connection import ObTimeouts
from obcp.ob.errors import ObSqlError
from obcp.ob.executor import SqlExecutor
from obcp.ob.parameters import Parameter, read_parameters
from obcp.ob.readiness import restart_proof
from obcp.ob.topology import read_topology
from obcp.operations.services import ClusterUnreachable, OperationServices

READ_TIMEOUTS = ObTimeouts(connect=3.0, read=15.0)


@dataclass
class ServerState:
    ref: ServerRef
    start_service_time: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ClusterParameters:
    capability: ObCapability
    parameters: dict[str, Parameter]
    servers: list[ServerState]


async def read_cluster(services: OperationServices, cluster_id: int) -> ClusterParameters:
    """Raises ObcpError CLUSTER_INACCESSIBLE when no server answers."""
    refs = await services.servers(cluster_id)
    try:
        async with services.cluster_sql(cluster_id) as ops:
            if ops.distributed:
                return await _read_distributed(ops.ex, ops.capability, refs)
            capability = ops.capability
    except ClusterUnreachable as exc:
        raise ObcpError(ErrorCode.CLUSTER_INACCESSIBLE, str(exc)) from exc
    except ObSqlError as exc:
        raise ObcpError(ErrorCode.CLUSTER_INACCESSIBLE, str(exc)) from exc
    password = await services.root_password(cluster_id)
    states = list(await asyncio.gather(*(_read_standalone(services, ref, password) for ref in refs)))
    parameters = next((reading for _, reading in states if reading is not None), {})
    return ClusterParameters(capability, parameters, [s for s, _ in states])


async def _read_distributed(
    ex: SqlExecutor, capability: ObCapability, refs: list[ServerRef]
) -> ClusterParameters:
    reading = await read_parameters(ex)
    topology = await read_topology(ex, capability)
    by_addr = {(r.address, r.rpc_port): ServerState(r) for r in refs}
    for server in topology.servers:
        state = by_addr.get((server.ip, server.rpc_port))
        if state is not None:
            state.start_service_time = server.start_service_time
    for value in reading.values:
        state = by_addr.get((value.svr_ip, value.svr_port))
        if state is not None:
            state.values[value.name] = value.value
    for state in by_addr.values():
        if not state.values:
            state.error = "not reported by GV$OB_PARAMETERS (not serving)"
    return ClusterParameters(capability, reading.parameters, list(by_addr.values()))


async def _read_standalone(
    services: OperationServices, ref: ServerRef, password: str
) -> tuple[ServerState, dict[str, Parameter] | None]:
    state = ServerState(ref)
    try:
        async with services.session(ref, password, READ_TIMEOUTS) as ex:
            reading = await read_parameters(ex)
            state.start_service_time = await restart_proof(ex, await detect_capability(ex))
    except ObSqlError as exc:
        state.error = str(exc)
        return state, None
    state.values = {v.name: v.value for v in reading.values}
    return state, reading.parameters
