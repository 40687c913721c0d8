"""What OCP's takeover call refers to: host types (`/api/v2/compute/hostTypes`, OCP's shape) and the
caller's own SSH credentials (`/api/v2/profiles/me/credentials`). A credential's secret (password or
private key) is stored encrypted with the SecretBox and never returned."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from obcp.api.auth import authenticated, require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.takeover_tables import compute_host_type, profile_credential
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
        total = (await conn.execute(select(func.count()).select_from(compute_host_type))).scalar_one()
        sortable: dict[str, ColumnElement[Any]] = {
            "id": compute_host_type.c.id,
            "name": compute_host_type.c.name,
        }
        query = pq.apply(select(compute_host_type), sortable, compute_host_type.c.id)
        rows = (await conn.execute(query)).all()
    return paged([host_type_json(r) for r in rows], pq.result_page(total))


@router.post("/api/v2/compute/hostTypes", summary="Add a host type")
async def create_host_type(
    db: DbDep, body: HostTypeCreate, _: Principal = Depends(require("HOST:*:CREATE"))
) -> OcpJSONResponse:
    now = now_ms()
    values = {"name": body.name, "description": body.description, "created_at": now, "updated_at": now}
    try:
        async with db.tx() as conn:
            taken = select(compute_host_type.c.id).where(compute_host_type.c.name == body.name)
            if (await conn.execute(taken)).first() is not None:
                raise ObcpError(ErrorCode.NAME_EXISTS, "host type", body.name)
            new_id = inserted_id(await conn.execute(compute_host_type.insert().values(**values)))
            row = (
                await conn.execute(select(compute_host_type).where(compute_host_type.c.id == new_id))
            ).one()
    except IntegrityError as exc:
        raise ObcpError(ErrorCode.NAME_EXISTS, "host type", body.name) from exc
    return ok(host_type_json(row))


async def host_type_exists(db: Database, host_type_id: int) -> bool:
    async with db.read() as conn:
        query = select(compute_host_type.c.id).where(compute_host_type.c.id == host_type_id)
        return (await conn.execute(query)).first() is not None


async def own_credential_exists(db: Database, user_id: int | None, credential_id: int) -> bool:
    async with db.read() as conn:
        query = select(profile_credential.c.id).where(
            profile_credential.c.id == credential_id, profile_credential.c.user_id == user_id
        )
        return (await conn.execute(query)).first() is not None


@router.get("/api/v2/profiles/me/credentials", summary="My credentials (secrets never returned)")
async def list_credentials(
    db: DbDep, pq: PageQuery = Depends(page_query), me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    mine = profile_credential.c.user_id == me.id
    async with db.read() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(profile_credential).where(mine))
        ).scalar_one()
        sortable: dict[str, ColumnElement[Any]] = {
            "id": profile_credential.c.id,
            "name": profile_credential.c.name,
        }
        query = pq.apply(select(profile_credential).where(mine), sortable, profile_credential.c.id)
        rows = (await conn.execute(query)).all()
    return paged([credential_json(r) for r in rows], pq.result_page(total))


@router.post("/api/v2/profiles/me/credentials", summary="Keep a credential (its secret encrypted)")
async def create_credential(
    db: DbDep, secretbox: SecretBoxDep, body: CredentialCreate, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    ssh = body.sshCredentialProperty
    secret = ssh.privateKey if ssh.type is SshType.PRIVATE_KEY else ssh.passphrase
    assert secret is not None, "checked by SshCredentialProperty"
    now = now_ms()
    values = {
        "user_id": me.id, "name": body.name, "target_type": body.targetType, "description": body.description,
        "ssh_type": ssh.type.value, "ssh_username": ssh.username, "secret_enc": secretbox.encrypt(secret),
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    mine = profile_credential.c.user_id == me.id
    try:
        async with db.tx() as conn:
            taken = select(profile_credential.c.id).where(mine, profile_credential.c.name == body.name)
            if (await conn.execute(taken)).first() is not None:
                raise ObcpError(ErrorCode.NAME_EXISTS, "credential", body.name)
            new_id = inserted_id(await conn.execute(profile_credential.insert().values(**values)))
            row = (
                await conn.execute(select(profile_credential).where(profile_credential.c.id == new_id))
            ).one()
    except IntegrityError as exc:
        raise ObcpError(ErrorCode.NAME_EXISTS, "credential", body.name) from exc
    return ok(credential_json(row))
