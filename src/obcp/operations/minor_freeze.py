"""The minor freeze a restart does in "Stop observer process" before the agent stops the observer (OCP's
restart does the same, on by default): the restarted observer then has no full memtable's redo to replay.
Off with `minorFreeze: false`; skipped, with a log line, when the observer does not answer SQL (nothing
can be frozen then); any other failure is the step's error."""

from __future__ import annotations

from obcp.engine import RunContext
from obcp.meta.inventory import ServerRef
from obcp.ob.capability import detect_capability
from obcp.ob.errors import ObConnectError, ObLoginError, ObSqlError, ObWaitTimeout
from obcp.ob.freeze import minor_freeze
from obcp.ob.topology import ServerAddr
from obcp.operations import keys
from obcp.operations.common import cluster_id, label
from obcp.operations.services import SQL_TIMEOUTS, ClusterUnreachable, OperationServices

FREEZE_TIMEOUT = 300.0


async def freeze_before_stop(ctx: RunContext, ref: ServerRef) -> None:
    if ctx.get(keys.MINOR_FREEZE) != "true":
        if ctx.get(keys.MINOR_FREEZE) == "false":
            ctx.log.info("%s: minor freeze skipped (minorFreeze is false)", label(ref))
        return
    services = OperationServices.of(ctx)
    target = ServerAddr(ref.address, ref.rpc_port)
    try:
        if ctx.get(keys.OB_KIND) == "DISTRIBUTED":
            async with services.cluster_sql(cluster_id(ctx), prefer=[ref], log=ctx.log.info) as ops:
                result = await minor_freeze(
                    ops.ex, ops.capability, target, timeout=FREEZE_TIMEOUT, log=ctx.log.info
                )
        else:
            password = await services.root_password(cluster_id(ctx))
            async with services.session(ref, password, SQL_TIMEOUTS) as ex:
                capability = await detect_capability(ex)
                result = await minor_freeze(ex, capability, target, timeout=FREEZE_TIMEOUT, log=ctx.log.info)
    except (ObConnectError, ObLoginError, ClusterUnreachable) as exc:
        ctx.log.info("%s does not answer SQL (%s): minor freeze skipped", label(ref), exc)
        return
    except (ObSqlError, ObWaitTimeout) as exc:
        raise RuntimeError(
            f"{label(ref)}: minor freeze before the stop failed: {exc}. Retry this subtask, or restart "
            "with minorFreeze false to stop without it"
        ) from exc
    ctx.log.info("%s: %s", label(ref), result.message)
