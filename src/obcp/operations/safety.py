"""The mode never changes silently: a rolling restart that cannot keep a distributed cluster serving is
refused at once, with the reason, and the caller chooses FORCE. A zone or server stop that would take a
majority away is refused at once likewise."""

from __future__ import annotations

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.inventory import ServerRef
from obcp.ob.topology import ServerAddr
from obcp.operations import keys
from obcp.operations.lifecycle import Kind, Scope
from obcp.operations.services import ClusterUnreachable, OperationServices
from obcp.operations.submit import Plan


async def check_safe(services: OperationServices, plan: Plan) -> None:
    """The safety check an operation gets before it is submitted (or shown as a dry run), if any."""
    op = plan.operation
    if op.kind is Kind.RESTART and op.scope is not Scope.SERVER and op.mode == "ROLLING":
        await check_rolling_safe(services, plan)
    elif op.kind is Kind.STOP and op.scope is Scope.ZONE:
        await check_stop_safe(services, op.cluster_id, zone=op.zone_name)
    elif op.kind is Kind.STOP and op.scope is Scope.SERVER:
        assert op.server_id is not None, "a server operation names its server"
        server = await services.server(op.cluster_id, op.server_id)
        await check_stop_safe(services, op.cluster_id, server=server)


async def check_rolling_safe(services: OperationServices, plan: Plan) -> None:
    zones = plan.context.list_map.get(keys.ZONE_NAMES, [])
    try:
        async with services.cluster_sql(plan.cluster.id) as ops:
            if not ops.distributed:
                return  # standalone observers: restarting one never takes a majority from another
            for zone in zones:
                verdict = await ops.check_majority_after_stop(zone=zone)
                if not verdict.safe:
                    raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"restartMode ROLLING: {verdict.message}")
    except ClusterUnreachable:
        # No observer answers: nothing serves that a rolling restart could keep serving.
        return


async def check_stop_safe(
    services: OperationServices, cluster_id: int, *, zone: str | None = None, server: ServerRef | None = None
) -> None:
    """A zone or server stop that would leave a log stream of a distributed cluster without a majority
    is refused at once, naming the log streams; the task would refuse it anyway at "Stop zone"/"Stop
    server", but only after statuses had moved."""
    try:
        async with services.cluster_sql(cluster_id) as ops:
            if not ops.distributed:
                return  # standalone observers share no log stream: stopping one never costs another's
            addrs = [ServerAddr(server.address, server.rpc_port)] if server is not None else []
            verdict = await ops.check_majority_after_stop(zone=zone, servers=addrs)
    except ClusterUnreachable:
        return  # nothing answers SQL: nothing serves that the stop could take away
    if not verdict.safe:
        param, target = (
            ("zoneName", f"zone {zone}") if zone is not None else ("serverId", f"server {addrs[0]}")
        )
        shown = "; ".join(s.describe() for s in verdict.shortfalls[:5]) or verdict.message
        raise ObcpError(
            ErrorCode.ILLEGAL_ARGUMENT,
            f"{param} (stopping {target} would leave log streams without a majority: {shown})",
        )
