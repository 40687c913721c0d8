"""Cluster, zone and server operations that answer with a task (`POST /api/v2/ob/clusters/{id}/restart`,
`…/stop`, `…/start`, and the same under `zones/{zoneName}` and `servers/{serverId}`)."""

from __future__ import annotations

from typing import Literal, Protocol

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from obcp.api.auth import require
from obcp.api.deps import RuntimeDep
from obcp.api.envelope import OcpJSONResponse, ok
from obcp.api.params import IdPath, NamePath
from obcp.api.runtime import Runtime
from obcp.iam.store import Principal
from obcp.operations import answers, submit
from obcp.operations.lifecycle import Kind, Scope
from obcp.operations.safety import check_safe
from obcp.operations.submit import Operation
from obcp.tracing import trace_id_var

router = APIRouter(tags=["cluster operations"])
UPDATE = Depends(require("CLUSTER:{id}:UPDATE"))


class OperationBody(BaseModel):
    """obcp's extension on every operation: answer the DAG that would run, create nothing."""

    # A misspelt option must not fall back silently to the default.
    model_config = ConfigDict(extra="forbid")

    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


# The bodies below declare `dryRun` last, as their schema always has.
class RestartBody(BaseModel):
    """obcp's extension; OCP clients send no body and get OCP's behaviour (rolling, every zone)."""

    model_config = ConfigDict(extra="forbid")

    restartMode: Literal["ROLLING", "FORCE"] = Field(
        "ROLLING", description="ROLLING: zones one after another; FORCE: all selected zones at once"
    )
    zoneNames: list[str] | None = Field(None, max_length=64, description="a subset of zones (default: all)")
    minorFreeze: bool = Field(True, description="ALTER SYSTEM MINOR FREEZE before each observer stops")
    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


class ServerRestartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="restart without ALTER SYSTEM STOP SERVER (OCP's force)")
    freezeServer: bool = Field(False, description="accepted for OCP 4.3 clients; minorFreeze decides")
    minorFreeze: bool = Field(True, description="ALTER SYSTEM MINOR FREEZE before the observer stops")
    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


class ZoneRestartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minorFreeze: bool = Field(True, description="ALTER SYSTEM MINOR FREEZE before each observer stops")
    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


class _Body(Protocol):
    dryRun: bool


async def _run(rt: Runtime, op: Operation, principal: Principal, body: _Body | None) -> OcpJSONResponse:
    """Plans the operation, refuses it if unsafe, then answers the dry run or submits the task."""
    plan = await submit.plan(rt.db, op)
    await check_safe(rt.operations, plan)
    if body is not None and body.dryRun:
        return ok(answers.dry_run_view(plan))
    task_id = await submit.submit(rt.engine, plan, principal, trace_id_var.get() or None)
    return ok(await answers.task_answer(rt.db, op.scope, task_id))


@router.post("/api/v2/ob/clusters/{id}/restart", summary="Restart a cluster (answers with the task)")
async def restart_cluster(
    rt: RuntimeDep, id: IdPath, body: RestartBody | None = Body(None), principal: Principal = UPDATE
) -> OcpJSONResponse:
    options = body or RestartBody()
    zones = tuple(options.zoneNames) if options.zoneNames is not None else None
    op = Operation(
        Scope.CLUSTER,
        Kind.RESTART,
        id,
        mode=options.restartMode,
        zone_names=zones,
        minor_freeze=options.minorFreeze,
    )
    return await _run(rt, op, principal, body)


@router.post(
    "/api/v2/ob/clusters/{id}/zones/{zoneName}/restart", summary="Restart a zone (answers with the task)"
)
async def restart_zone(
    rt: RuntimeDep,
    id: IdPath,
    zoneName: NamePath,
    body: ZoneRestartBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    freeze = body.minorFreeze if body is not None else True
    op = Operation(Scope.ZONE, Kind.RESTART, id, zone_name=zoneName, minor_freeze=freeze)
    return await _run(rt, op, principal, body)


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/restart",
    summary="Restart an OBServer (answers with the task)",
)
async def restart_server(
    rt: RuntimeDep,
    id: IdPath,
    serverId: IdPath,
    force: bool | None = Query(None, description="as in the body; OCP clients send either"),
    body: ServerRestartBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    forced = bool(force) if force is not None else bool(body and body.force)
    freeze = body.minorFreeze if body is not None else True
    op = Operation(Scope.SERVER, Kind.RESTART, id, server_id=serverId, force=forced, minor_freeze=freeze)
    return await _run(rt, op, principal, body)


@router.post("/api/v2/ob/clusters/{id}/stop", summary="Stop a cluster (answers with the task)")
async def stop_cluster(
    rt: RuntimeDep, id: IdPath, body: OperationBody | None = Body(None), principal: Principal = UPDATE
) -> OcpJSONResponse:
    op = Operation(Scope.CLUSTER, Kind.STOP, id)
    return await _run(rt, op, principal, body)


@router.post("/api/v2/ob/clusters/{id}/start", summary="Start a stopped cluster (answers with the task)")
async def start_cluster(
    rt: RuntimeDep, id: IdPath, body: OperationBody | None = Body(None), principal: Principal = UPDATE
) -> OcpJSONResponse:
    op = Operation(Scope.CLUSTER, Kind.START, id)
    return await _run(rt, op, principal, body)


@router.post("/api/v2/ob/clusters/{id}/zones/{zoneName}/stop", summary="Stop a zone (answers with the task)")
async def stop_zone(
    rt: RuntimeDep,
    id: IdPath,
    zoneName: NamePath,
    body: OperationBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    op = Operation(Scope.ZONE, Kind.STOP, id, zone_name=zoneName)
    return await _run(rt, op, principal, body)


@router.post(
    "/api/v2/ob/clusters/{id}/zones/{zoneName}/start", summary="Start a stopped zone (answers with the task)"
)
async def start_zone(
    rt: RuntimeDep,
    id: IdPath,
    zoneName: NamePath,
    body: OperationBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    op = Operation(Scope.ZONE, Kind.START, id, zone_name=zoneName)
    return await _run(rt, op, principal, body)


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/stop", summary="Stop an OBServer (answers with the task)"
)
async def stop_server(
    rt: RuntimeDep,
    id: IdPath,
    serverId: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    op = Operation(Scope.SERVER, Kind.STOP, id, server_id=serverId)
    return await _run(rt, op, principal, body)


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/start",
    summary="Start a stopped OBServer (answers with the task)",
)
async def start_server(
    rt: RuntimeDep,
    id: IdPath,
    serverId: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = UPDATE,
) -> OcpJSONResponse:
    op = Operation(Scope.SERVER, Kind.START, id, server_id=serverId)
    return await _run(rt, op, principal, body)
