"""`POST /api/v2/ob/clusters/import` (obcp extension): hosts, their agents and a running cluster in one
call, checked against what the observers and agents answer before anything is written.

`dryRun: true` answers the check alone (each server with what answered at its address, and every
difference); without it the same check runs first and a description that disagrees is refused (11090,
the differences named), else hosts and cluster are written in one transaction.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import DbDep, OperationsDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, ok
from obcp.api.routes.clusters import NAME_PATTERN
from obcp.api.routes.hosts import HostCreate
from obcp.engine import newest_tasks
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.ob.topology_diff import DescribedServer
from obcp.operations.cluster_import import (
    ImportHost,
    ImportRequest,
    check_import,
    check_json,
    register_import,
)

router = APIRouter(tags=["clusters"])


class ImportHostSpec(HostCreate):
    """A host and its agent, registered by the import (or its agent port and key updated)."""


class ImportServerSpec(BaseModel):
    observerName: str = Field(min_length=1, max_length=128, description="its name in its host agent's config")
    address: str = Field(max_length=64, description="one of the hosts' addresses")
    sqlPort: int = Field(ge=1, le=65535)
    rpcPort: int = Field(2882, ge=1, le=65535)
    zoneName: str = Field(pattern=NAME_PATTERN)


class ClusterImportBody(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="the cluster's name in obcp")
    rootPassword: str = Field(
        max_length=128, description="root@sys's password (write-only, stored encrypted)"
    )
    obClusterId: int | None = Field(None, ge=1, le=2**63 - 1)
    hosts: list[ImportHostSpec] = Field(min_length=1, max_length=256)
    servers: list[ImportServerSpec] = Field(min_length=1, max_length=1024)
    dryRun: bool = Field(False, description="answer the check only; write nothing")

    @model_validator(mode="after")
    def _consistent(self) -> ClusterImportBody:
        addresses = [h.address for h in self.hosts]
        if len(set(addresses)) != len(addresses):
            raise ValueError("two hosts have the same address")
        strays = sorted({s.address for s in self.servers} - set(addresses))
        if strays:
            raise ValueError(f"servers on {', '.join(strays)}, which is not among the hosts")
        endpoints = [(s.address, s.sqlPort) for s in self.servers]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("two servers have the same address and SQL port")
        names = [(s.address, s.observerName) for s in self.servers]
        if len(set(names)) != len(names):
            raise ValueError("two servers have the same address and observer name")
        return self

    def request(self) -> ImportRequest:
        return ImportRequest(
            name=self.name,
            root_password=self.rootPassword,
            ob_cluster_id=self.obClusterId,
            hosts=[ImportHost(h.address, h.agentPort, h.agentKey, h.name) for h in self.hosts],
            servers=[
                DescribedServer(s.observerName, s.address, s.sqlPort, s.rpcPort, s.zoneName)
                for s in self.servers
            ],
        )


@router.post("/api/v2/ob/clusters/import", summary="Import hosts and a running cluster (obcp extension)")
async def import_cluster(
    db: DbDep,
    secretbox: SecretBoxDep,
    services: OperationsDep,
    body: ClusterImportBody,
    principal: Principal = Depends(require("CLUSTER:*:CREATE")),
) -> OcpJSONResponse:
    # It registers hosts too: the caller must be allowed both.
    if not principal.can("HOST:*:CREATE"):
        raise ObcpError(ErrorCode.NOT_AUTHORIZED, "HOST:*:CREATE")
    async with db.read() as conn:
        await inventory.refuse_taken_name(conn, body.name)
    request = body.request()
    check = await check_import(request, services.connect, services.agent_tls)
    if body.dryRun:
        return ok({"dryRun": True, **check_json(check)})
    if not check.agrees:
        raise ObcpError(
            ErrorCode.CLUSTER_MISMATCH,
            "; ".join(check.differences),
            sub_errors=[{"message": d} for d in check.differences],
        )
    try:
        async with db.tx() as conn:
            cluster_id = await register_import(conn, request, secretbox, principal.username, check.ob_version)
            row = await inventory.get_cluster(conn, cluster_id)
            view = (await inventory.cluster_views(conn, [row], newest_tasks))[0]
            await audit.record(conn, resource_id=cluster_id)
    except IntegrityError as exc:  # a concurrent import or takeover of the same name or servers won
        raise ObcpError(ErrorCode.CLUSTER_EXISTS, body.name) from exc
    return ok(view)
