"""Cluster operations that answer with a task (`POST /api/v2/ob/clusters/{id}/restart`, …)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field

from obcp.api.auth import require
from obcp.api.envelope import OcpJSONResponse, ok, trace_id_var
from obcp.api.params import IdPath
from obcp.iam.store import Principal
from obcp.operations import submit
from obcp.operations.safety import check_rolling_safe

router = APIRouter(tags=["cluster operations"])


class RestartBody(BaseModel):
    """obcp's extension; OCP clients send no body and get OCP's behaviour (rolling, every zone)."""

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
    if options.dry_run:
        return ok(submit.dry_run_view(plan, options))
    task_id = await submit.submit(request.app.state.engine, plan, principal, trace_id_var.get() or None)
    return ok(await submit.task_view(db, task_id))
