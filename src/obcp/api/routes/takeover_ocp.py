"""OCP's `POST /api/v2/ob/clusters/takeOver`, as obd's ocp-server plugin sends it: one observer's address
and port, root@sys's password and the host info OCP would use to install its agents over SSH. It answers
at once with the task (`data.id`) and the new cluster (`data.clusterId`, status TAKINGOVER); the task
discovers zones and servers from the cluster and needs an obcp agent on every host (docs/api.md)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import RuntimeDep
from obcp.api.envelope import OcpJSONResponse, ok
from obcp.api.routes.clusters import NAME_PATTERN
from obcp.api.routes.hosts import normalised_address
from obcp.engine import Context, ResourceLock
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import inventory
from obcp.meta import takeover_prereqs as prereqs
from obcp.meta.statuses import ClusterStatus
from obcp.operations import keys
from obcp.operations.answers import full_task_view
from obcp.operations.takeover_steps import ADDRESS, PORT, take_over_template
from obcp.tracing import trace_id_var

router = APIRouter(tags=["clusters"])


class HostInfo(BaseModel):
    kind: str = Field("DEDICATED_PHYSICAL_MACHINE", max_length=64)
    hostTypeId: int = Field(ge=1, le=2**63 - 1)
    sshPort: int = Field(22, ge=1, le=65535)
    credentialId: int = Field(ge=1, le=2**63 - 1)


class TakeOverBody(BaseModel):
    address: str = Field(max_length=64, description="an observer's IP address (or host name)")
    port: int = Field(ge=1, le=65535, description="its SQL port")
    rootSysPassword: str = Field(max_length=128, description="root@sys's password (write-only)")
    connectionMode: str = Field("direct", pattern=r"^(?i:direct|proxy)$")
    switchConfigUrl: bool = False
    hostInfo: HostInfo
    # Accepted as obd sends it; obcp runs no obproxy, so it is neither used nor stored.
    proxyroPassword: str | None = Field(None, max_length=128)
    name: str | None = Field(None, pattern=NAME_PATTERN, description="obcp: the cluster's name in obcp")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalised_address(value)


def default_name(address: str, port: int) -> str:
    try:
        flat = str(ipaddress.ip_address(address)).replace(".", "_").replace(":", "_")
    except ValueError:
        flat = address.replace(".", "_")
    return f"obcluster_{flat}_{port}"


@router.post("/api/v2/ob/clusters/takeOver", summary="Take over a running cluster (OCP's call; a task)")
async def take_over(
    rt: RuntimeDep, body: TakeOverBody, principal: Principal = Depends(require("CLUSTER:*:CREATE"))
) -> OcpJSONResponse:
    async with rt.db.read() as conn:
        host_type_known = await prereqs.host_type_exists(conn, body.hostInfo.hostTypeId)
        credential_known = await prereqs.own_credential_exists(conn, principal.id, body.hostInfo.credentialId)
    if not host_type_known:
        raise ObcpError(
            ErrorCode.ILLEGAL_ARGUMENT, f"hostInfo.hostTypeId (no host type {body.hostInfo.hostTypeId})"
        )
    if not credential_known:
        raise ObcpError(
            ErrorCode.ILLEGAL_ARGUMENT,
            f"hostInfo.credentialId (you have no credential {body.hostInfo.credentialId})",
        )
    name = body.name or default_name(body.address, body.port)
    password_enc = rt.secretbox.encrypt(body.rootSysPassword)
    cluster = inventory.NewCluster(name, 1, None, password_enc, principal.username, zones=[])
    async with rt.db.tx() as conn:
        await inventory.refuse_taken_name(conn, name)
        cluster_id = await inventory.insert_cluster(conn, cluster, ClusterStatus.TAKINGOVER)
    audit.name_resource(cluster_id)  # recorded with the task's submission, the call's change
    context = Context()
    context.put(keys.CLUSTER_ID, cluster_id)
    context.put(keys.CLUSTER_NAME, name)
    context.put(ADDRESS, body.address)
    context.put(PORT, body.port)
    try:
        task_id = await rt.engine.submit(
            take_over_template(),
            context,
            creator=principal.username,
            creator_id=principal.id,
            locks=[ResourceLock.cluster(cluster_id)],
            cluster_id=cluster_id,
            trace_id=trace_id_var.get() or None,
        )
    except BaseException:
        async with rt.db.tx() as conn:  # no task, no cluster: the call left nothing behind
            await inventory.delete_empty_cluster(conn, cluster_id)
        raise
    return ok(await full_task_view(rt.db, task_id))
