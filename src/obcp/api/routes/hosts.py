"""Hosts and their agents (`/api/v2/compute/hosts`). The agent key is write-only."""

from __future__ import annotations

import ipaddress
import re

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, no_data, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import hosts

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


@router.get("/api/v2/compute/hosts", summary="List hosts")
async def list_hosts(
    db: DbDep,
    keyword: str | None = Query(None, max_length=128, description="part of the name or address"),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("HOST:*:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        total, rows = await hosts.list_hosts(conn, keyword, pq)
        views = await hosts.host_views(conn, rows)
    return paged(views, pq.result_page(total))


@router.get("/api/v2/compute/hosts/{hostId}", summary="A host")
async def get_host(
    db: DbDep, hostId: IdPath, _: Principal = Depends(require("HOST:{hostId}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        return ok((await hosts.host_views(conn, [await hosts.get_host(conn, hostId)]))[0])


@router.post("/api/v2/compute/hosts", summary="Register a host and its agent")
async def create_host(
    db: DbDep, secretbox: SecretBoxDep, body: HostCreate, _: Principal = Depends(require("HOST:*:CREATE"))
) -> OcpJSONResponse:
    key_enc = secretbox.encrypt(body.agentKey)
    try:
        async with db.tx() as conn:
            row = await hosts.create_host(
                conn, body.name or body.address, body.address, body.agentPort, key_enc, body.description
            )
            await audit.record(conn, resource_id=row.id)
    except IntegrityError as exc:  # a concurrent registration of the same address won the race
        raise ObcpError(ErrorCode.HOST_EXISTS, body.address, body.agentPort) from exc
    return ok(hosts.host_json(row))


@router.put("/api/v2/compute/hosts/{hostId}", summary="Change a host's agent port or key")
async def update_host(
    db: DbDep,
    secretbox: SecretBoxDep,
    hostId: IdPath,
    body: HostAgentUpdate,
    _: Principal = Depends(require("HOST:{hostId}:UPDATE")),
) -> OcpJSONResponse:
    key_enc = secretbox.encrypt(body.agentKey) if body.agentKey is not None else None
    async with db.tx() as conn:
        row = await hosts.update_host(conn, hostId, body.agentPort, key_enc, body.description)
        view = (await hosts.host_views(conn, [row]))[0]
        await audit.record(conn)
    return ok(view)


@router.delete("/api/v2/compute/hosts/{hostId}", summary="Delete a host that runs no managed observer")
async def delete_host(
    db: DbDep, hostId: IdPath, _: Principal = Depends(require("HOST:{hostId}:DELETE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await hosts.delete_host(conn, hostId)
        await audit.record(conn)
    return no_data()
