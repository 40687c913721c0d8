"""Cluster, zone and server operations that answer with a task (`POST /api/v2/ob/clusters/{id}/restart`,
`…/stop`, `…/start`, and the same under `zones/{zoneName}` and `servers/{serverId}`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from obcp.api.auth import require
from obcp.api.envelope import OcpJSONResponse, ok, trace_id_var
from obcp.api.params import IdPath, NamePath
from obcp.iam.store import Principal
from obcp.meta.db import Database
from obcp.operations import submit
from obcp.operations.safety import check_rolling_safe, check_stop_safe

router = APIRouter(tags=["cluster operations"])


class RestartBody(BaseModel):
    """obcp's extension; OCP clients send no body and get OCP's behaviour (rolling, every zone)."""

    # A misspelt option must not fall back silently to the default mode.
    model_config = ConfigDict(extra="forbid")

    restartMode: Literal["ROLLING", "FORCE"] = Field(
        "ROLLING", description="ROLLING: zones one after another; FORCE: all selected zones at once"
    )
    zoneNames: list[str] | None = Field(None, max_length=64, description="a subset of zones (default: all)")
    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


@router.post("/api/v2/ob/clusters/{id}/restart", summary="Restart a cluster (answers with the task)")
async def restart_cluster(
    request: Request,
    id: IdPath,
    body: RestartBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    body = body or RestartBody()
    options = submit.RestartOptions(
        mode=body.restartMode,
        zone_names=tuple(body.zoneNames) if body.zoneNames is not None else None,
        dry_run=body.dryRun,
    )
    db = request.app.state.db
    plan = await submit.plan_restart_cluster(db, id, options)
    if options.mode == "ROLLING":
        await check_rolling_safe(request.app.state.operations, plan)
    return await _answer(
        request, plan, principal, dry_run=options.dry_run, view=submit.task_view, mode=options.mode
    )


@router.post(
    "/api/v2/ob/clusters/{id}/zones/{zoneName}/restart", summary="Restart a zone (answers with the task)"
)
async def restart_zone(
    request: Request,
    id: IdPath,
    zoneName: NamePath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_restart_zone(request.app.state.db, id, zoneName)
    await check_rolling_safe(request.app.state.operations, plan)
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)


class ServerRestartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="restart without ALTER SYSTEM STOP SERVER (OCP's force)")
    freezeServer: bool = Field(False, description="accepted for OCP 4.3 clients; obcp does not freeze")
    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/restart",
    summary="Restart an OBServer (answers with the task)",
)
async def restart_server(
    request: Request,
    id: IdPath,
    serverId: IdPath,
    force: bool | None = Query(None, description="as in the body; OCP clients send either"),
    body: ServerRestartBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    forced = bool(force) if force is not None else bool(body and body.force)
    plan = await submit.plan_restart_server(request.app.state.db, id, serverId, force=forced)
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)


def _trace() -> str | None:
    return trace_id_var.get() or None


class OperationBody(BaseModel):
    """obcp's extension on every operation: answer the DAG that would run, create nothing."""

    model_config = ConfigDict(extra="forbid")

    dryRun: bool = Field(False, description="answer with the DAG that would run; create nothing")


async def _answer(
    request: Request,
    plan: submit.Plan,
    principal: Principal,
    *,
    dry_run: bool,
    view: Callable[[Database, int], Awaitable[dict[str, Any]]],
    mode: str | None = None,
) -> OcpJSONResponse:
    if dry_run:
        return ok(submit.dry_run_view(plan, mode))
    task_id = await submit.submit(request.app.state.engine, plan, principal, _trace())
    return ok(await view(request.app.state.db, task_id))


@router.post("/api/v2/ob/clusters/{id}/stop", summary="Stop a cluster (answers with the task)")
async def stop_cluster(
    request: Request,
    id: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_cluster(request.app.state.db, id, "stop")
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.task_view)


@router.post("/api/v2/ob/clusters/{id}/start", summary="Start a stopped cluster (answers with the task)")
async def start_cluster(
    request: Request,
    id: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_cluster(request.app.state.db, id, "start")
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.task_view)


@router.post("/api/v2/ob/clusters/{id}/zones/{zoneName}/stop", summary="Stop a zone (answers with the task)")
async def stop_zone(
    request: Request,
    id: IdPath,
    zoneName: NamePath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_zone(request.app.state.db, id, zoneName, "stop")
    await check_stop_safe(request.app.state.operations, id, zone=zoneName)
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)


@router.post(
    "/api/v2/ob/clusters/{id}/zones/{zoneName}/start", summary="Start a stopped zone (answers with the task)"
)
async def start_zone(
    request: Request,
    id: IdPath,
    zoneName: NamePath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_zone(request.app.state.db, id, zoneName, "start")
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/stop", summary="Stop an OBServer (answers with the task)"
)
async def stop_server(
    request: Request,
    id: IdPath,
    serverId: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_server(request.app.state.db, id, serverId, "stop")
    operations = request.app.state.operations
    await check_stop_safe(operations, id, server=await operations.server(id, serverId))
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)


@router.post(
    "/api/v2/ob/clusters/{id}/servers/{serverId}/start",
    summary="Start a stopped OBServer (answers with the task)",
)
async def start_server(
    request: Request,
    id: IdPath,
    serverId: IdPath,
    body: OperationBody | None = Body(None),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    plan = await submit.plan_server(request.app.state.db, id, serverId, "start")
    dry = bool(body and body.dryRun)
    return await _answer(request, plan, principal, dry_run=dry, view=submit.full_task_view)
