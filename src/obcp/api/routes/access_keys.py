"""Access keys (OCP 4.x AK/SK): a user's own under `/api/v2/profiles/me/accessKeys`, another user's (for an
administrator holding `USER:{userId}:UPDATE`) under `/api/v2/iam/users/{userId}/accessKeys`.

The secret is in the answer of the creation only; no other answer ever holds it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from obcp import audit
from obcp.api.auth import authenticated, require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, iterable, no_data, ok
from obcp.api.params import IdPath
from obcp.iam import access_keys, store
from obcp.iam.store import Principal

router = APIRouter(tags=["access keys"])

MINE = "/api/v2/profiles/me/accessKeys"
THEIRS = "/api/v2/iam/users/{userId}/accessKeys"
KeyIdPath = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9]{1,64}$", description="an AccessKeyId")]


class AccessKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=255)


@router.post(MINE, summary="Create an access key (the secret is answered this once)")
async def create_key(
    db: DbDep, box: SecretBoxDep, me: Principal = Depends(authenticated), body: AccessKeyCreate | None = None
) -> OcpJSONResponse:
    description = body.description if body else None
    async with db.tx() as conn:
        view, secret = await access_keys.create_key(conn, box, me.id, me.username, description)
        await audit.record(conn, resource_id=view["accessKeyId"])
    return ok({**view, "accessKeySecret": secret})


@router.get(MINE, summary="List one's access keys")
async def list_mine(db: DbDep, me: Principal = Depends(authenticated)) -> OcpJSONResponse:
    async with db.read() as conn:
        return iterable(await access_keys.list_keys(conn, me.id))


@router.post(MINE + "/{accessKeyId}/disable", summary="Disable one's access key")
async def disable_mine(
    db: DbDep, accessKeyId: KeyIdPath, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    async with db.tx() as conn:
        view = await access_keys.set_status(conn, me.id, accessKeyId, access_keys.DISABLED)
        await audit.record(conn)
    return ok(view)


@router.post(MINE + "/{accessKeyId}/enable", summary="Enable one's access key")
async def enable_mine(
    db: DbDep, accessKeyId: KeyIdPath, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    async with db.tx() as conn:
        view = await access_keys.set_status(conn, me.id, accessKeyId, access_keys.ACTIVE)
        await audit.record(conn)
    return ok(view)


@router.delete(MINE + "/{accessKeyId}", summary="Delete one's access key")
async def delete_mine(
    db: DbDep, accessKeyId: KeyIdPath, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await access_keys.delete_key(conn, me.id, accessKeyId)
        await audit.record(conn)
    return no_data()


@router.get(THEIRS, summary="List a user's access keys (administrators)")
async def list_theirs(
    db: DbDep, userId: IdPath, _: Principal = Depends(require("USER:{userId}:UPDATE"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        await store.get_user(conn, userId)
        return iterable(await access_keys.list_keys(conn, userId))


@router.post(THEIRS + "/{accessKeyId}/disable", summary="Disable a user's access key (administrators)")
async def disable_theirs(
    db: DbDep,
    userId: IdPath,
    accessKeyId: KeyIdPath,
    _: Principal = Depends(require("USER:{userId}:UPDATE")),
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.get_user(conn, userId)
        view = await access_keys.set_status(conn, userId, accessKeyId, access_keys.DISABLED)
        await audit.record(conn)
    return ok(view)


@router.delete(THEIRS + "/{accessKeyId}", summary="Delete a user's access key (administrators)")
async def delete_theirs(
    db: DbDep,
    userId: IdPath,
    accessKeyId: KeyIdPath,
    _: Principal = Depends(require("USER:{userId}:UPDATE")),
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.get_user(conn, userId)
        await access_keys.delete_key(conn, userId, accessKeyId)
        await audit.record(conn)
    return no_data()
