"""What OCP's takeover call refers to: host types (`/api/v2/compute/hostTypes`, OCP's shape) and the
caller's own SSH credentials (`/api/v2/profiles/me/credentials`). A credential's secret (password or
private key) is stored encrypted with the SecretBox and never returned."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError

from obcp import audit
from obcp.api.auth import authenticated, require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta import takeover_prereqs as prereqs
from obcp.timefmt import iso_ms

router = APIRouter(tags=["hosts"])


class HostTypeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=255)


class SshType(StrEnum):
    PASSWORD = "PASSWORD"
    PRIVATE_KEY = "PRIVATE_KEY"


class SshCredentialProperty(BaseModel):
    type: SshType
    username: str = Field(min_length=1, max_length=64)
    # OCP's name for the password of type PASSWORD (and a key's passphrase); write-only.
    passphrase: str | None = Field(None, max_length=1024)
    privateKey: str | None = Field(None, max_length=16384, description="type PRIVATE_KEY; write-only")

    @model_validator(mode="after")
    def _secret(self) -> SshCredentialProperty:
        if self.type is SshType.PASSWORD and not self.passphrase:
            raise ValueError("a PASSWORD credential needs its passphrase")
        if self.type is SshType.PRIVATE_KEY and not self.privateKey:
            raise ValueError("a PRIVATE_KEY credential needs its privateKey")
        return self


class CredentialCreate(BaseModel):
    targetType: str = Field(pattern=r"^HOST$", description="HOST (the only target obcp keeps)")
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=255)
    sshCredentialProperty: SshCredentialProperty


def host_type_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description,
            "createTime": iso_ms(row.created_at), "updateTime": iso_ms(row.updated_at)}  # fmt: skip


def credential_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "targetType": row.target_type,
        "description": row.description,
        "sshCredentialProperty": {"type": row.ssh_type, "username": row.ssh_username},
        "createTime": iso_ms(row.created_at),
        "updateTime": iso_ms(row.updated_at),
    }


@router.get("/api/v2/compute/hostTypes", summary="List host types")
async def list_host_types(
    db: DbDep, pq: PageQuery = Depends(page_query), _: Principal = Depends(require("HOST:*:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        rows, total = await prereqs.list_host_types(conn, pq)
    return paged([host_type_json(r) for r in rows], pq.result_page(total))


@router.post("/api/v2/compute/hostTypes", summary="Add a host type")
async def create_host_type(
    db: DbDep, body: HostTypeCreate, _: Principal = Depends(require("HOST:*:CREATE"))
) -> OcpJSONResponse:
    try:
        async with db.tx() as conn:
            row = await prereqs.create_host_type(conn, body.name, body.description)
            await audit.record(conn, resource_id=row.id)
    except IntegrityError as exc:
        raise ObcpError(ErrorCode.NAME_EXISTS, "host type", body.name) from exc
    return ok(host_type_json(row))


@router.get("/api/v2/profiles/me/credentials", summary="My credentials (secrets never returned)")
async def list_credentials(
    db: DbDep, pq: PageQuery = Depends(page_query), me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    async with db.read() as conn:
        rows, total = await prereqs.list_credentials(conn, me.id, pq)
    return paged([credential_json(r) for r in rows], pq.result_page(total))


@router.post("/api/v2/profiles/me/credentials", summary="Keep a credential (its secret encrypted)")
async def create_credential(
    db: DbDep, secretbox: SecretBoxDep, body: CredentialCreate, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    ssh = body.sshCredentialProperty
    secret = ssh.privateKey if ssh.type is SshType.PRIVATE_KEY else ssh.passphrase
    assert secret is not None, "checked by SshCredentialProperty"
    try:
        async with db.tx() as conn:
            row = await prereqs.create_credential(
                conn,
                me.id,
                body.name,
                target_type=body.targetType,
                description=body.description,
                ssh_type=ssh.type.value,
                ssh_username=ssh.username,
                secret_enc=secretbox.encrypt(secret),
            )
            await audit.record(conn, resource_id=row.id)
    except IntegrityError as exc:
        raise ObcpError(ErrorCode.NAME_EXISTS, "credential", body.name) from exc
    return ok(credential_json(row))
