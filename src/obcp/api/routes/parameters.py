"""Cluster parameters: OCP's `GET /api/v2/ob/clusters/parameterInfo`, `GET` and `PUT
/api/v2/ob/clusters/{id}/parameters`, with obcp's pending-restart fields. Values are read live from the
observers; every change is recorded in the metadb."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from obcp.api.auth import require
from obcp.api.deps import OperationsDep
from obcp.api.envelope import OcpJSONResponse, Page, no_data, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.engine import ResourceLock, lock_holder
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.operations.services import OperationServices
from obcp.parameters import store
from obcp.parameters.apply import Wanted, apply_changes
from obcp.parameters.reading import read_cluster
from obcp.parameters.verify import refresh_pending
from obcp.parameters.views import cluster_parameter_json, info_json
from obcp.tracing import trace_id_var

router = APIRouter(tags=["cluster parameters"])
MAX_CHANGES = 100


class SetClusterParameterParam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1, max_length=128)
    # OCP's example sends a number; a string, a number and a boolean are all taken as their text.
    value: StrictStr | StrictBool | StrictInt | StrictFloat

    def text(self) -> str:
        if isinstance(self.value, bool):
            return "True" if self.value else "False"
        return str(self.value)


@router.get("/api/v2/ob/clusters/parameterInfo", summary="Parameter metadata, as the observers report it")
async def parameter_info(
    operations: OperationsDep,
    clusterId: int | None = Query(None, ge=1, description="whose observers to ask (default: the first)"),
    name: str | None = Query(None, max_length=128, description="part of the name, case-insensitive"),
    _: Principal = Depends(require("CLUSTER:*:READ")),
) -> OcpJSONResponse:
    ids = [clusterId] if clusterId is not None else await _cluster_ids(operations)
    if not ids:
        return paged([], Page(1, 0, 0))
    cluster = await read_cluster(operations, ids[0])
    version = cluster.capability.version_text
    infos = [info_json(p, version) for p in sorted(cluster.parameters.values(), key=lambda p: p.name)]
    if name:
        infos = [i for i in infos if name.lower() in i["name"].lower()]
    return paged(infos, Page(1, len(infos), len(infos)))


async def _cluster_ids(operations: OperationServices) -> list[int]:
    async with operations.db.read() as conn:
        return await inventory.cluster_ids_named(conn, "")


@router.get("/api/v2/ob/clusters/{id}/parameters", summary="Parameters of a cluster, value per server")
async def list_parameters(
    operations: OperationsDep,
    id: IdPath,
    name: str | None = Query(None, max_length=128, description="part of the name, case-insensitive"),
    pendingRestart: bool | None = Query(None, description="only those pending (or not pending) restart"),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("CLUSTER:{id}:READ")),
) -> OcpJSONResponse:
    descending = _descending(pq.sort)
    async with operations.db.read() as conn:
        await inventory.get_cluster(conn, id)
        changes = await store.latest_static(conn, id)
    cluster = await read_cluster(operations, id)
    await refresh_pending(operations, cluster, changes)
    views = [
        cluster_parameter_json(p, cluster.servers, changes.get(p.name))
        for p in sorted(cluster.parameters.values(), key=lambda p: p.name)
        if not name or name.lower() in p.name.lower()
    ]
    if pendingRestart is not None:
        views = [v for v in views if v["pendingRestart"] == pendingRestart]
    if descending:
        views.reverse()
    return paged(views[pq.offset : pq.offset + pq.size], pq.result_page(len(views)))


def _descending(sort: str | None) -> bool:
    """The list is sorted by name; `sort=name,desc` reverses it."""
    if not sort:
        return False
    field, _, direction = sort.partition(",")
    if field.strip() != "name":
        raise ObcpError(ErrorCode.SORT_FIELD_UNSUPPORTED, field.strip() or "(empty)")
    direction = direction.strip().lower() or "asc"
    if direction not in ("asc", "desc"):
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"sort direction {direction!r} (use asc or desc)")
    return direction == "desc"


@router.put("/api/v2/ob/clusters/{id}/parameters", summary="Change cluster parameters (all or none)")
async def set_parameters(
    operations: OperationsDep,
    id: IdPath,
    body: list[SetClusterParameterParam] = Body(...),
    principal: Principal = Depends(require("CLUSTER:{id}:UPDATE")),
) -> OcpJSONResponse:
    if not body:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, "the body (a list of {name, value}; it is empty)")
    if len(body) > MAX_CHANGES:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"the body (at most {MAX_CHANGES} parameters at once)")
    async with operations.db.read() as conn:
        await inventory.get_cluster(conn, id)
        holder = await lock_holder(conn, ResourceLock.cluster(id))
    if holder is not None:
        raise ObcpError(
            ErrorCode.CLUSTER_BUSY,
            f"{holder.name} (task {holder.id}, {holder.state})",
            target={"taskId": holder.id},
        )
    wanted = [Wanted(p.name, p.text()) for p in body]
    await apply_changes(operations, id, wanted, who=principal.username, trace_id=trace_id_var.get() or None)
    return no_data()
