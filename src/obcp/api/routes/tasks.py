"""OCP's task API (`/api/v2/tasks/instances/...`): list, details, logs, and the operator's actions.

Shapes follow ocp-compat-research.md §2.2 and §3: the list returns BasicTaskInstance (Shape D), details and
task retry/rollback return WrappedTaskInstance (Shape C), subtask retry returns the SubtaskInstance, skip and
cancel return the envelope without data. A subtask id that is not in the task is 404 (4002).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.api.auth import require
from obcp.api.envelope import OcpJSONResponse, no_data, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.engine import store, views
from obcp.engine.scheduler import Engine
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta.tables import ob_cluster
from obcp.meta.task_tables import task_instance

router = APIRouter(tags=["tasks"])

T = task_instance.c
STATES = {"RUNNING", "FAILED", "SUCCESSFUL"}
SORTABLE: dict[str, ColumnElement[Any]] = {
    "id": T.id,
    "name": T.name,
    "status": T.state,
    "type": T.type,
    "createTime": T.created_at,
    "startTime": T.start_time,
    "finishTime": T.end_time,
}


def _engine(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


async def _wrapped(conn: AsyncConnection, task_id: int) -> dict[str, Any]:
    data = (await views.load(conn, [task_id])).get(task_id)
    if data is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    return views.wrapped(data)


@router.get("/api/v2/tasks/instances", summary="List tasks")
async def list_tasks(
    request: Request,
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
) -> OcpJSONResponse:
    conds: list[ColumnElement[bool]] = []
    if name:
        conds.append(T.name.like(f"%{_escape(name)}%", escape="\\"))
    if status:
        wanted = {s.strip().upper() for s in status.split(",") if s.strip()}
        if not wanted <= STATES:
            raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"status {status!r}")
        conds.append(T.state.in_(sorted(wanted)))
    if type:
        conds.append(T.type == type.upper())
    if cluster_id is not None:
        conds.append(T.cluster_id == cluster_id)
    if cluster_name or cluter_name:
        pattern = f"%{_escape(cluster_name or cluter_name or '')}%"
        conds.append(
            T.cluster_id.in_(select(ob_cluster.c.id).where(ob_cluster.c.name.like(pattern, escape="\\")))
        )
    if tenant_id is not None:
        conds.append(T.tenant_id == tenant_id)
    if tenant_name:
        # obcp has no tenant inventory yet, so no task can match a tenant name.
        conds.append(T.id.is_(None))
    if host_id is not None:
        conds.append(T.host_id == host_id)
    async with request.app.state.db.read() as conn:
        total = int(await conn.scalar(select(func.count()).select_from(task_instance).where(*conds)) or 0)
        query = pq.apply(select(T.id).where(*conds), SORTABLE, T.id.desc())
        ids = list((await conn.execute(query)).scalars())
        loaded = await views.load(conn, ids, edges=False)
    return paged([views.basic(loaded[i]) for i in ids if i in loaded], pq.result_page(total))


@router.get("/api/v2/tasks/instances/{taskInstanceId}", summary="A task with its subtasks")
async def get_task(
    request: Request, taskInstanceId: IdPath, _: Principal = Depends(require("TASK:{taskInstanceId}:READ"))
) -> OcpJSONResponse:
    async with request.app.state.db.read() as conn:
        return ok(await _wrapped(conn, taskInstanceId))


async def _moved(request: Request, task_id: int) -> OcpJSONResponse:
    """After a retry or rollback: wake the scheduler, answer with the task as it is now."""
    _engine(request).kick()
    async with request.app.state.db.read() as conn:
        return ok(await _wrapped(conn, task_id))


@router.post("/api/v2/tasks/instances/{taskInstanceId}/retry", summary="Re-run all failed subtasks")
async def retry_task(
    request: Request, taskInstanceId: IdPath, _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE"))
) -> OcpJSONResponse:
    await _engine(request).retry_task(taskInstanceId)
    return await _moved(request, taskInstanceId)


@router.post("/api/v2/tasks/instances/{taskInstanceId}/rollback", summary="Give up: roll back the task")
async def rollback_task(
    request: Request, taskInstanceId: IdPath, _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE"))
) -> OcpJSONResponse:
    await _engine(request).rollback_task(taskInstanceId)
    return await _moved(request, taskInstanceId)


@router.get(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/log",
    summary="The log of a subtask (all its runs; grows while it runs)",
)
async def subtask_log(
    request: Request,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:READ")),
) -> OcpJSONResponse:
    async with request.app.state.db.read() as conn:
        await _ensure_task(conn, taskInstanceId)
        return ok({"log": await store.read_log(conn, taskInstanceId, subtaskInstanceId)})


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/retry", summary="Retry a subtask"
)
async def retry_subtask(
    request: Request,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    engine = _engine(request)
    await _exists(request, taskInstanceId)
    await engine.retry_subtask(taskInstanceId, subtaskInstanceId)
    engine.kick()
    async with request.app.state.db.read() as conn:
        data = (await views.load(conn, [taskInstanceId]))[taskInstanceId]
    sub = next(s for s in data.subtasks if s.id == subtaskInstanceId)
    return ok(views.subtask_json(sub, data))


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/skip",
    summary="Mark a failed subtask successful so the task continues",
)
async def skip_subtask(
    request: Request,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    me: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    engine = _engine(request)
    await _exists(request, taskInstanceId)
    await engine.skip_subtask(taskInstanceId, subtaskInstanceId, me.username)
    engine.kick()
    return no_data()


@router.post(
    "/api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/cancel",
    summary="Interrupt a running subtask (it ends FAILED)",
)
async def cancel_subtask(
    request: Request,
    taskInstanceId: IdPath,
    subtaskInstanceId: IdPath,
    _: Principal = Depends(require("TASK:{taskInstanceId}:UPDATE")),
) -> OcpJSONResponse:
    engine = _engine(request)
    await _exists(request, taskInstanceId)
    await engine.cancel_subtask(taskInstanceId, subtaskInstanceId)
    return no_data()


async def _ensure_task(conn: AsyncConnection, task_id: int) -> None:
    if await conn.scalar(select(T.id).where(T.id == task_id)) is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)


async def _exists(request: Request, task_id: int) -> None:
    async with request.app.state.db.read() as conn:
        await _ensure_task(conn, task_id)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
