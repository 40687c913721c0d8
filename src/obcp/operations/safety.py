"""The mode never changes silently: a rolling restart that cannot keep a distributed cluster serving is
refused at once, with the reason, and the caller chooses FORCE."""

from __future__ import annotations

from obcp.errors import ErrorCode, ObcpError
from obcp.operations import keys
from obcp.operations.services import ClusterUnreachable, OperationServices
from obcp.operations.submit import Plan


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
