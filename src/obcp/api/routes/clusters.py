"""OceanBase clusters, zones and servers (`/api/v2/ob/clusters/...`), and taking over a running cluster."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, iterable, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath, NamePath
from obcp.engine import newest_tasks
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory

router = APIRouter(tags=["clusters"])

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,127}$"


class ServerSpec(BaseModel):
    hostId: int = Field(ge=1, le=2**63 - 1, description="a registered host")
    sqlPort: int = Field(ge=1, le=65535)
    rpcPort: int = Field(2882, ge=1, le=65535)
    observerName: str = Field(
        min_length=1, max_length=128, description="the observer's name on the host's agent"
    )


class ZoneSpec(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    idcName: str | None = Field(None, max_length=128)
    regionName: str | None = Field(None, max_length=128)
    servers: list[ServerSpec] = Field(min_length=1, max_length=256)


class TakeoverRequest(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="the cluster's name in obcp")
    rootPassword: str = Field(
        max_length=128, description="password of root@sys (write-only, stored encrypted)"
    )
    obClusterId: int | None = Field(None, ge=1, le=2**63 - 1, description="OceanBase's own cluster id")
    obVersion: str | None = Field(None, max_length=64)
    zones: list[ZoneSpec] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> TakeoverRequest:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        endpoints = [(s.hostId, s.sqlPort) for z in self.zones for s in z.servers]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("two servers have the same host and SQL port")
        observers = [(s.hostId, s.observerName) for z in self.zones for s in z.servers]
        if len(set(observers)) != len(observers):
            raise ValueError("two servers have the same host and observer name")
        return self


def _statuses(values: list[str] | None) -> list[str]:
    wanted = [v.strip().upper() for raw in values or [] for v in raw.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in inventory.CLUSTER_STATUSES]
    if unknown:
        raise ObcpError(
            ErrorCode.ILLEGAL_ARGUMENT,
            f"status {', '.join(unknown)} (one of {', '.join(inventory.CLUSTER_STATUSES)})",
        )
    return wanted


@router.get("/api/v2/ob/clusters", summary="List clusters")
async def list_clusters(
    db: DbDep,
    name: str | None = Query(None, max_length=128, description="part of the cluster name, case-insensitive"),
    status: list[str] | None = Query(None, description="statuses, e.g. RUNNING,RESTARTING"),
    withStandby: bool = Query(False),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("CLUSTER:*:READ")),
) -> OcpJSONResponse:
    statuses = _statuses(status)
    async with db.read() as conn:
        total, rows = await inventory.list_clusters(conn, name, statuses, pq)
        views = await inventory.cluster_views(conn, rows, newest_tasks)
    return paged(views, pq.result_page(total))


@router.get("/api/v2/ob/clusters/{id}", summary="A cluster with its zones and servers")
async def get_cluster(
    db: DbDep, id: IdPath, _: Principal = Depends(require("CLUSTER:{id}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        row = await inventory.get_cluster(conn, id)
        return ok((await inventory.cluster_views(conn, [row], newest_tasks))[0])


@router.get("/api/v2/ob/clusters/{id}/zones", summary="Zones of a cluster")
async def list_zones(
    db: DbDep, id: IdPath, _: Principal = Depends(require("CLUSTER:{id}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        row = await inventory.get_cluster(conn, id)
        return iterable((await inventory.cluster_views(conn, [row], newest_tasks))[0]["zones"])


@router.get("/api/v2/ob/clusters/{id}/servers", summary="Servers of a cluster")
async def list_servers(
    db: DbDep, id: IdPath, _: Principal = Depends(require("CLUSTER:{id}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        await inventory.get_cluster(conn, id)
        servers = await inventory.servers_of(conn, [id])
    return iterable([inventory.server_json(s, s.zone_name, s.address, s.host_name) for s in servers])


@router.get("/api/v2/ob/clusters/{id}/zones/{zoneName}/servers", summary="Servers of a zone")
async def list_zone_servers(
    db: DbDep, id: IdPath, zoneName: NamePath, _: Principal = Depends(require("CLUSTER:{id}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        await inventory.get_cluster(conn, id)
        zone = await inventory.zone_by_name(conn, id, zoneName)
        servers = await inventory.servers_of(conn, [id], zone_id=zone.id)
    return iterable([inventory.server_json(s, s.zone_name, s.address, s.host_name) for s in servers])


@router.post("/api/v2/ob/clusters/takeover", summary="Take over a running cluster (obcp extension)")
async def takeover(
    db: DbDep,
    secretbox: SecretBoxDep,
    body: TakeoverRequest,
    principal: Principal = Depends(require("CLUSTER:*:CREATE")),
) -> OcpJSONResponse:
    cluster = inventory.NewCluster(
        name=body.name,
        ob_cluster_id=body.obClusterId or 1,
        ob_version=body.obVersion,
        root_password_enc=secretbox.encrypt(body.rootPassword),
        creator=principal.username,
        zones=[
            inventory.NewZone(
                z.name,
                z.idcName,
                z.regionName,
                [inventory.NewServer(s.hostId, s.sqlPort, s.rpcPort, s.observerName) for s in z.servers],
            )
            for z in body.zones
        ],
    )
    try:
        async with db.tx() as conn:
            cluster_id = await inventory.register_cluster(conn, cluster)
            row = await inventory.get_cluster(conn, cluster_id)
            view = (await inventory.cluster_views(conn, [row], newest_tasks))[0]
            await audit.record(conn, resource_id=cluster_id)
    except IntegrityError as exc:  # a concurrent takeover with the same name or endpoints won the race
        raise ObcpError(ErrorCode.CLUSTER_EXISTS, body.name) from exc
    return ok(view)
