"""Per-server steps: record, stop and start the observer process through its host's agent, and prove that
the new process serves SQL."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from obcp.engine import RunContext, Subtask, register
from obcp.meta.inventory import ServerRef
from obcp.meta.statuses import ServerStatus
from obcp.ob.errors import ObSqlError, ObWaitTimeout
from obcp.ob.readiness import PROBE_TIMEOUTS, ProbeFailure, probe, restart_proof, wait_accessible
from obcp.ob.topology import ServerAddr
from obcp.ob.waiting import wait_until
from obcp.operations import keys
from obcp.operations.agent_calls import agent_status, observer_action
from obcp.operations.common import (
    cluster_id,
    label,
    record_zone_states,
    server_of,
    set_server_status,
    zone_of,
    zone_servers,
)
from obcp.operations.lifecycle import SERVER, Kind, Scope, former
from obcp.operations.minor_freeze import freeze_before_stop
from obcp.operations.services import OperationServices, describe_process


def _identity(status: dict[str, Any]) -> str:
    """A process as pid plus start time: a recycled pid is another process."""
    return f"{status.get('pid')}@{status.get('startedAt')}" if status.get("running") else ""


def monitors_availability(ctx: RunContext) -> bool:
    """Only a restart promises to keep serving: a stop's outage is its purpose, and a start begins from
    one, so probing their observers would measure nothing a DBA asked for."""
    return (ctx.get(keys.OPERATION_KIND) or Kind.RESTART) == Kind.RESTART


async def _watched(ctx: RunContext) -> ServerRef:
    """This step's server, with the task's availability monitor running here (resumed after a crash)."""
    ref = await server_of(ctx)
    if monitors_availability(ctx):
        await OperationServices.of(ctx).watch_availability(ctx.task_id, cluster_id(ctx))
    return ref


class PrepareObserver(Subtask):
    kind: ClassVar[Kind] = Kind.RESTART
    # A start's observers may all be down; its "Start server" asks DBA_OB_SERVERS once they serve.
    records_zone_states: ClassVar[bool] = True
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if self.records_zone_states:
            await record_zone_states(ctx, [ref.zone_name])
        status = await agent_status(ctx, ref)
        ctx.log.info("%s: %s", label(ref), describe_process(status))
        if ctx.get(keys.process_before(ref.id)) is None:
            ctx.put(keys.process_before(ref.id), _identity(status))
            stamp = await _service_time(ctx, ref)
            if stamp is not None:
                ctx.put(keys.service_time_before(ref.id), stamp)
                ctx.log.info("%s serves SQL since START_SERVICE_TIME %d", label(ref), stamp)
        found = await set_server_status(ctx, ref, SERVER[self.kind].during)
        if ctx.get(keys.former_server_status(ref.id)) is None:
            ctx.put(keys.former_server_status(ref.id), former(Scope.SERVER, found))

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        found = ctx.get(keys.former_server_status(ref.id))
        await set_server_status(ctx, ref, found or ServerStatus.RUNNING)


async def _service_time(ctx: RunContext, ref: ServerRef) -> int | None:
    ops = OperationServices.of(ctx)
    password = await ops.root_password(cluster_id(ctx))
    try:
        async with ops.session(ref, password, PROBE_TIMEOUTS) as ex:
            return await restart_proof(ex)
    except ObSqlError as exc:
        ctx.log.info("%s does not serve SQL now (%s): no START_SERVICE_TIME to compare", label(ref), exc)
        return None


@register
class PrepareRestartObserver(PrepareObserver):
    key = "obcp.operations.PrepareRestartObserver"
    name = "Prepare restart observer"


@register
class PrepareStopObserver(PrepareObserver):
    key = "obcp.operations.PrepareStopObserver"
    name = "Prepare stop observer"
    kind = Kind.STOP


@register
class PrepareStartObserver(PrepareObserver):
    key = "obcp.operations.PrepareStartObserver"
    name = "Prepare start observer"
    kind = Kind.START
    records_zone_states = False


@register
class StopObserverProcess(Subtask):
    key = "obcp.operations.StopObserverProcess"
    name = "Stop observer process"
    timeout = 1200
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        status = await agent_status(ctx, ref)
        before = ctx.get(keys.process_before(ref.id)) or ""
        now = _identity(status)
        if not now:
            ctx.log.info("%s is not running: nothing to stop", label(ref))
        elif before and now != before:
            # Someone else restarted it since "Prepare": stopping the new process would be a second outage.
            ctx.log.info(
                "%s already runs as a new process (%s, was %s): not stopping it", label(ref), now, before
            )
            return
        else:
            await freeze_before_stop(ctx, ref)
            answer = await observer_action(ctx, ref, "stop")
            ctx.log.info("%s: %s", label(ref), answer.get("message", "stopped"))
        ctx.put(keys.process_stopped(ref.id), "true")

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.process_before(ref.id)):
            await _start(ctx, ref, "rollback: start again what this task stopped")


async def _start(ctx: RunContext, ref: ServerRef, why: str) -> None:
    ctx.log.info("%s: %s", label(ref), why)
    answer = await observer_action(ctx, ref, "start")
    ctx.log.info("%s: %s", label(ref), answer.get("message", "started"))


@register
class StartObserverProcess(Subtask):
    key = "obcp.operations.StartObserverProcess"
    name = "Start observer process"
    timeout = 1200
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        await _start(ctx, ref, "start the observer process (a running one is left as it is)")


@register
class WaitObserverAccessible(Subtask):
    key = "obcp.operations.WaitObserverAccessible"
    name = "Wait observer accessible"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        password = await OperationServices.of(ctx).root_password(cluster_id(ctx))
        await _wait_new_process(ctx, ref, password, self.timeout)


async def _wait_new_process(ctx: RunContext, ref: ServerRef, password: str, step_timeout: int) -> None:
    """Until the observer serves SQL as a new process (another START_SERVICE_TIME than before)."""
    before = ctx.get(keys.service_time_before(ref.id))
    try:
        ready = await wait_accessible(
            ref.address,
            ref.sql_port,
            password,
            timeout=max(step_timeout - 30, 30),
            previous_start_service_time=int(before) if before else None,
            log=ctx.log.info,
            connect=OperationServices.of(ctx).connect,
        )
    except ObWaitTimeout as exc:
        raise RuntimeError(f"{label(ref)}: {exc}") from exc
    ctx.put(keys.service_time_after(ref.id), ready.start_service_time)
    ctx.log.info(
        "%s accepts SQL after %.1f s; START_SERVICE_TIME %d%s",
        label(ref),
        ready.seconds,
        ready.start_service_time,
        f" (was {before}): a new process" if before else "",
    )


@register
class StartOcpAgentService(Subtask):
    """OCP restarts its agent's service for the observer here; obcp's agent watches every observer it
    runs, so this step checks that the agent reports the new process."""

    key = "obcp.operations.StartOcpAgentService"
    name = "Start ocp agent service"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        status = await agent_status(ctx, ref)
        if not status.get("running"):
            raise RuntimeError(f"{label(ref)}: the agent reports the observer not running after its start")
        ctx.put(keys.process_after(ref.id), _identity(status))
        ctx.log.info(
            "agent %s:%d watches %s: %s", ref.address, ref.agent_port, label(ref), describe_process(status)
        )


@register
class StartServer(Subtask):
    """START SERVER after a restart, for a server this task stopped with STOP SERVER (and only then)."""

    key = "obcp.operations.StartServer"
    name = "Start server"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.OB_KIND) != "DISTRIBUTED":
            ctx.log.info("standalone server: ALTER SYSTEM START SERVER not applicable")
            return
        if ctx.get(keys.server_stopped(ref.id)) != "true":
            ctx.log.info(
                "%s was not stopped by ALTER SYSTEM STOP SERVER in this task: nothing to start", label(ref)
            )
            return
        async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
        ctx.log.info("%s", result.message)


@register
class StartServerOnStart(Subtask):
    """START SERVER of a start: the server was stopped by an earlier task (or by hand), so nothing in this
    task's context says whether STOP SERVER was sent; DBA_OB_SERVERS does (it is sent only if needed)."""

    key = "obcp.operations.StartServerOnStart"
    name = "Start server"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        services = OperationServices.of(ctx)
        async with services.cluster_sql(cluster_id(ctx), prefer=[ref], log=ctx.log.info) as ops:
            result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
        ctx.log.info("%s", result.message)


class UpdateObserverStatus(Subtask):
    kind: ClassVar[Kind] = Kind.RESTART
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        lifecycle = SERVER[self.kind]
        await set_server_status(ctx, await server_of(ctx), lifecycle.on_success, lifecycle.inner_on_success)

    async def rollback(self, ctx: RunContext) -> None:
        await set_server_status(ctx, await server_of(ctx), SERVER[self.kind].during)


@register
class UpdateRestartObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateObserverStatus"
    name = "Update observer status"


@register
class UpdateStopObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateStopObserverStatus"
    name = "Update observer status"
    kind = Kind.STOP


@register
class UpdateStartObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateStartObserverStatus"
    name = "Update observer status"
    kind = Kind.START


@register
class WaitObserverActive(Subtask):
    """OCP's "Wait observer active": one node (not a fan-out) that waits for every server it covers —
    the server of a server operation, or every server of the zone."""

    key = "obcp.operations.WaitObserverActive"
    name = "Wait observer active"
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        if ctx.params.get("server_id"):
            refs = [await _watched(ctx)]
        else:
            refs = await zone_servers(ctx, zone_of(ctx))
            if monitors_availability(ctx):
                await OperationServices.of(ctx).watch_availability(ctx.task_id, cluster_id(ctx))
        password = await OperationServices.of(ctx).root_password(cluster_id(ctx))
        await asyncio.gather(*(_wait_new_process(ctx, ref, password, self.timeout) for ref in refs))


@register
class StopServer(Subtask):
    """ALTER SYSTEM STOP SERVER before a server's process stops, so its leaders move away first; skipped
    with `force` (OCP's forced restart) and on standalone servers."""

    key = "obcp.operations.StopServer"
    name = "Stop server"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.OB_KIND) != "DISTRIBUTED":
            ctx.log.info("standalone server: ALTER SYSTEM STOP SERVER not applicable")
            return
        if ctx.get(keys.FORCE) == "true":
            ctx.log.info("force: %s is restarted without ALTER SYSTEM STOP SERVER", label(ref))
            return
        async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            result = await ops.stop_server(ServerAddr(ref.address, ref.rpc_port))
        ctx.log.info("%s", result.message)
        ctx.put(keys.server_stopped(ref.id), "true")

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.server_stopped(ref.id)) == "true" and ctx.get(keys.OB_KIND) == "DISTRIBUTED":
            async with OperationServices.of(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
                result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
            ctx.log.info("rollback: %s", result.message)


@register
class WaitObserverStop(Subtask):
    """OCP's "Wait observer stop": the stop is proven from both sides, the agent no longer reports the
    process and its SQL port no longer answers (a port that still takes logins is a process still up)."""

    key = "obcp.operations.WaitObserverStop"
    name = "Wait observer stop"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        password = await OperationServices.of(ctx).root_password(cluster_id(ctx))

        async def stopped() -> str | None:
            status = await agent_status(ctx, ref)
            if status.get("running"):
                return f"the agent to report it not running (now {describe_process(status)})"
            answer = await probe(
                ref.address, ref.sql_port, password, connect=OperationServices.of(ctx).connect
            )
            # Login denied or an SQL error means an observer still answers on that port.
            if answer.ok or answer.failure in (ProbeFailure.LOGIN_DENIED, ProbeFailure.SQL_ERROR):
                return f"SQL port {ref.sql_port} to stop answering ({answer.describe()})"
            return None

        try:
            waited = await wait_until(
                stopped, what=label(ref), timeout=max(self.timeout - 30, 30), log=ctx.log.info
            )
        except ObWaitTimeout as exc:
            raise RuntimeError(str(exc)) from exc
        ctx.log.info("%s is stopped (agent: not running; SQL port closed) after %.1f s", label(ref), waited)
