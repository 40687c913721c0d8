"""Hosts and their agents (`/api/v2/compute/hosts`). The agent key is write-only."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from obcp.api.auth import require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, no_data, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.inventory import host_json
from obcp.meta.tables import compute_host, ob_cluster, ob_server

router = APIRouter(tags=["hosts"])

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)


def normalised_address(value: str) -> str:
    """An IP address in its canonical form, or a host name in lower case; anything else is refused."""
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if _HOSTNAME.match(value):
            return value.lower()
    raise ValueError("must be an IP address or a host name")


class HostCreate(BaseModel):
    address: str = Field(max_length=64, description="IP address (or DNS name) of the host")
    agentPort: int = Field(ge=1, le=65535, description="port of the obcp agent on the host")
    agentKey: str = Field(min_length=16, max_length=256, description="the agent's signing key (write-only)")
    name: str | None = Field(None, min_length=1, max_length=128, description="defaults to the address")
    description: str | None = Field(None, max_length=255)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalised_address(value)


class HostAgentUpdate(BaseModel):
    """A new agent port and/or key for a registered host (an agent re-installed, a key rotated)."""

    model_config = ConfigDict(extra="forbid")

    agentPort: int | None = Field(None, ge=1, le=65535)
    agentKey: str | None = Field(None, min_length=16, max_length=256, description="write-only")
    description: str | None = Field(None, max_length=255)

    @model_validator(mode="after")
    def _something(self) -> HostAgentUpdate:
        if self.agentPort is None and self.agentKey is None and self.description is None:
            raise ValueError("give agentPort, agentKey or description")
        return self


async def _services(db: Database, host_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    query = (
        select(ob_server.c.host_id, ob_cluster.c.id, ob_cluster.c.name, ob_cluster.c.ob_version)
        .join(ob_cluster, ob_cluster.c.id == ob_server.c.cluster_id)
        .where(ob_server.c.host_id.in_(host_ids))
    )
    result: dict[int, list[dict[str, Any]]] = {h: [] for h in host_ids}
    async with db.read() as conn:
        for row in (await conn.execute(query)).all():
            entry = {"type": "OB_CLUSTER", "name": f"{row.name}:{row.id}", "version": row.ob_version}
            if entry not in result[row.host_id]:
                result[row.host_id].append(entry)
    return result


@router.get("/api/v2/compute/hosts", summary="List hosts")
async def list_hosts(
    db: DbDep,
    keyword: str | None = Query(None, max_length=128, description="part of the name or address"),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("HOST:*:READ")),
) -> OcpJSONResponse:
    where = []
    if keyword:
        where.append(
            or_(
                compute_host.c.name.icontains(keyword, autoescape=True),
                compute_host.c.address.icontains(keyword, autoescape=True),
            )
        )
    async with db.read() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(compute_host).where(*where))
        ).scalar_one()
        query = pq.apply(
            select(compute_host).where(*where),
            {"id": compute_host.c.id, "name": compute_host.c.name, "createTime": compute_host.c.created_at},
            compute_host.c.id,
        )
        rows = (await conn.execute(query)).all()
    services = await _services(db, [r.id for r in rows])
    return paged([host_json(r, services[r.id]) for r in rows], pq.result_page(total))


@router.get("/api/v2/compute/hosts/{hostId}", summary="A host")
async def get_host(
    db: DbDep, hostId: IdPath, _: Principal = Depends(require("HOST:{hostId}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        row = (await conn.execute(select(compute_host).where(compute_host.c.id == hostId))).first()
    if row is None:
        raise ObcpError(ErrorCode.HOST_NOT_FOUND, hostId)
    return ok(host_json(row, (await _services(db, [hostId]))[hostId]))


@router.post("/api/v2/compute/hosts", summary="Register a host and its agent")
async def create_host(
    db: DbDep, secretbox: SecretBoxDep, body: HostCreate, _: Principal = Depends(require("HOST:*:CREATE"))
) -> OcpJSONResponse:
    now = now_ms()
    values = {
        "name": body.name or body.address,
        "address": body.address,
        "agent_port": body.agentPort,
        "agent_key_enc": secretbox.encrypt(body.agentKey),
        "description": body.description,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with db.tx() as conn:
            exists = (
                await conn.execute(select(compute_host.c.id).where(compute_host.c.address == body.address))
            ).first()
            if exists is not None:
                raise ObcpError(ErrorCode.HOST_EXISTS, body.address, body.agentPort)
            result = await conn.execute(compute_host.insert().values(**values))
            host_id = inserted_id(result)
            row = (await conn.execute(select(compute_host).where(compute_host.c.id == host_id))).one()
    except IntegrityError as exc:  # a concurrent registration of the same address won the race
        raise ObcpError(ErrorCode.HOST_EXISTS, body.address, body.agentPort) from exc
    return ok(host_json(row))


@router.put("/api/v2/compute/hosts/{hostId}", summary="Change a host's agent port or key")
async def update_host(
    db: DbDep,
    secretbox: SecretBoxDep,
    hostId: IdPath,
    body: HostAgentUpdate,
    _: Principal = Depends(require("HOST:{hostId}:UPDATE")),
) -> OcpJSONResponse:
    values: dict[str, Any] = {"updated_at": now_ms()}
    if body.agentPort is not None:
        values["agent_port"] = body.agentPort
    if body.agentKey is not None:
        values["agent_key_enc"] = secretbox.encrypt(body.agentKey)
    if body.description is not None:
        values["description"] = body.description
    async with db.tx() as conn:
        result = await conn.execute(update(compute_host).where(compute_host.c.id == hostId).values(**values))
        if result.rowcount != 1:
            raise ObcpError(ErrorCode.HOST_NOT_FOUND, hostId)
        row = (await conn.execute(select(compute_host).where(compute_host.c.id == hostId))).one()
    return ok(host_json(row, (await _services(db, [hostId]))[hostId]))


@router.delete("/api/v2/compute/hosts/{hostId}", summary="Delete a host that runs no managed observer")
async def delete_host(
    db: DbDep, hostId: IdPath, _: Principal = Depends(require("HOST:{hostId}:DELETE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        row = (await conn.execute(select(compute_host).where(compute_host.c.id == hostId))).first()
        if row is None:
            raise ObcpError(ErrorCode.HOST_NOT_FOUND, hostId)
        used = (
            await conn.execute(
                select(ob_server.c.id, ob_cluster.c.name)
                .join(ob_cluster, ob_cluster.c.id == ob_server.c.cluster_id)
                .where(ob_server.c.host_id == hostId)
            )
        ).first()
        if used is not None:
            raise ObcpError(ErrorCode.HOST_IN_USE, row.address, f"OBServer {used.id} of cluster {used.name}")
        await conn.execute(delete(compute_host).where(compute_host.c.id == hostId))
    return no_data()
