"""OCP's task API (`/api/v2/tasks/instances/...`): list, details, logs, and the operator's actions.

The list returns BasicTaskInstance (Shape D), details and task retry/rollback return WrappedTaskInstance
(Shape C), subtask retry returns the SubtaskInstance, skip and cancel return the envelope without data. A
subtask id that is not in the task is 404 (4002). Every action goes through the engine, which wakes its
dispatcher for what the action made READY.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from obcp.api.auth import require
from obcp.api.deps import DbDep, EngineDep
from obcp.api.envelope import EncodedDataResponse, OcpJSONResponse, no_data, ok, ok_encoded
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.api.task_list_views import encoded_items_page, page_items
from obcp.api.task_views_cache import task_view
from obcp.engine import (
    TaskFilter,
    TaskState,
    load_task,
    read_log,
    subtask_json,
    task_page,
)
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.meta.db import Database

router = APIRouter(tags=["tasks"])

STATES = {s.value for s in TaskState}


async def _wrapped(db: Database, task_id: int) -> EncodedDataResponse:
    return ok_encoded(await task_view(db, task_id))


def _states(status: str | None) -> set[str] | None:
    if not status:
        return None
    wanted = {s.strip().upper() for s in status.split(",") if s.strip()}
    if not wanted <= STATES:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"status {status!r}")
    return wanted


@router.get("/api/v2/tasks/instances", summary="List tasks")
async def list_task_instances(
    db: DbDep,
    name: str | None = Query(None, max_length=128, description="fuzzy match on the task name"),
    status: str | None = Query(None, max_length=64, description="comma list of RUNNING, FAILED, SUCCESSFUL"),
    type: str | None = Query(None, max_length=32),
    cluster_name: str | None = Query(None, alias="clusterName", max_length=128),
    cluter_name: str | None = Query(None, alias="cluterName", max_length=128, include_in_schema=False),
    cluster_id: int | None = Query(None, alias="clusterId", ge=1),
    tenant_name: str | None = Query(None, alias="tenantName", max_length=128),
    tenant_id: int | None = Query(None, alias="tenantId", ge=1),
    host_id: int | None = Query(None, alias="hostId", ge=1),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("TASK:*:READ")),
) -> EncodedDataResponse:
    states = _states(status)
    clusters: set[int] | None = {cluster_id} if cluster_id is not None else None
    tenants: set[int] | None = {tenant_id} if tenant_id is not None else None
    if tenant_name:
        tenants = set()  # obcp has no tenant inventory yet, so no task can match a tenant name
    async with db.read() as conn:
        if cluster_name or cluter_name:
            named = set(await inventory.cluster_ids_named(conn, cluster_name or cluter_name or ""))
            clusters = named if clusters is None else clusters & named
        filters = TaskFilter(name, states, type.upper() if type else None, clusters, tenants, host_id)
        total, ids = await task_page(conn, filters, pq)
        items = await page_items(db, conn, ids, inventory.cluster_briefs)
    return ok_encoded(encoded_items_page(items, pq.result_page(total)))


@router.get("/api/v2/tasks/instances/{taskInstanceId}", summary="A task with its subtasks")
async def get_task(
    db: DbDep, taskInstanceId: IdPath, _: Principal = Depends(require("TASK:{taskInstanceId}:READ"))
) -> EncodedDataResponse:
    return await _wrapped(db, taskInstanceId)


@router.post("/api/v2/tasks/instances/{taskInstanceId}/retry", summary="Re-run all failed subtasks")
async def retry_task(
    db: DbDep,
    engine: EngineDep,
    taskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> EncodedDataResponse:
    await engine.retry_task(taskInstanceId)
    return await _wrapped(db, taskInstanceId)


@router.post("/api/v2/tasks/instances/{taskInstanceId}/rollback", summary="Give up: roll back the task")
async def rollback_task(
    db: DbDep,
    engine: EngineDep,
    taskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> EncodedDataResponse:
    await engine.rollback_task(taskInstanceId)
    return await _wrapped(db, taskInstanceId)


@router.get(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/log",
    summary="The log of a subtask (all its runs; grows while it runs)",
)
async def subtask_log(
    db: DbDep,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        return ok({"log": await read_log(conn, taskInstanceId, subtaskInstanceId)})


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/retry", summary="Retry a subtask"
)
async def retry_subtask(
    db: DbDep,
    engine: EngineDep,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    await engine.retry_subtask(taskInstanceId, subtaskInstanceId)
    async with db.read() as conn:
        data = await load_task(conn, taskInstanceId, inventory.cluster_briefs)
    sub = next(s for s in data.subtasks if s.id == subtaskInstanceId)
    return ok(subtask_json(sub, data))


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/skip",
    summary="Mark a failed subtask successful so the task continues",
)
async def skip_subtask(
    engine: EngineDep,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    me: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    await engine.skip_subtask(taskInstanceId, subtaskInstanceId, me.username)
    return no_data()


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/cancel",
    summary="Interrupt a running subtask (it ends FAILED)",
)
async def cancel_subtask(
    engine: EngineDep,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    await engine.cancel_subtask(taskInstanceId, subtaskInstanceId)
    return no_data()
