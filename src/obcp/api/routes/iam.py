"""Users, roles, the current user and passwords (`/api/v2/iam/...`)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp import audit
from obcp.api import sessions
from obcp.api.auth import authenticated, require
from obcp.api.deps import DbDep
from obcp.api.envelope import OcpJSONResponse, no_data, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import IdPath
from obcp.errors import ErrorCode, ObcpError
from obcp.iam import lockout, store
from obcp.iam.passwords import check_strength, hash_password, verify_password
from obcp.iam.store import Principal
from obcp.timefmt import iso_ms

router = APIRouter(tags=["iam"])

USERNAME_PATTERN = r"^[A-Za-z][A-Za-z0-9._\-]{1,62}[A-Za-z0-9]$"
ROLE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,30}[A-Za-z0-9]$"
# Bounded so that 200 of them fit the roles table's TEXT column on MySQL (64 KiB).
Permission = Annotated[str, Field(min_length=1, max_length=255)]
RoleName = Annotated[str, Field(min_length=1, max_length=64)]


class UserCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="3 to 64 characters, starting with a letter")
    password: str = Field(min_length=1, max_length=128, description="write-only")
    email: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=255)
    roles: list[RoleName] = Field(default_factory=list, max_length=100, description="role names")


class RolesUpdate(BaseModel):
    roles: list[RoleName] = Field(max_length=100, description="the user's complete list of role names")


class PasswordReset(BaseModel):
    password: str = Field(min_length=1, max_length=128, description="the new password (write-only)")


class PasswordChange(BaseModel):
    currentPassword: str = Field(min_length=1, max_length=128)
    newPassword: str = Field(min_length=1, max_length=128)


class RoleCreate(BaseModel):
    name: str = Field(pattern=ROLE_PATTERN, description="2 to 32 letters, digits and underscores")
    description: str | None = Field(None, max_length=255)
    permissions: list[Permission] = Field(
        max_length=200, description='permission expressions, e.g. "CLUSTER:*:READ"'
    )


class RoleUpdate(BaseModel):
    description: str | None = Field(None, max_length=255)
    permissions: list[Permission] = Field(max_length=200)


def _user_json(row: Any, roles: list[Any], locks: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "email": row.email,
        "description": row.description,
        "enabled": bool(row.enabled),
        "roles": [{"id": r.id, "name": r.name} for r in roles],
        "createTime": iso_ms(row.created_at),
        "updateTime": iso_ms(row.updated_at),
        # Only while failed logins keep the user locked (3003): when the lock ends by itself.
        "lockedUntil": iso_ms(locks.get(row.username)),
    }


def _role_json(row: Any) -> dict[str, Any]:
    data = store.role_json(row)
    data["createTime"] = iso_ms(row.created_at)
    data["updateTime"] = iso_ms(row.updated_at)
    return data


async def _user_view(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    row = await store.get_user(conn, user_id)
    roles = (await store.roles_of(conn, [user_id]))[user_id]
    return _user_json(row, roles, await lockout.locks_of(conn, [row.username]))


def _new_password_hash_checked(password: str) -> str:
    problem = check_strength(password)
    if problem:
        raise ObcpError(ErrorCode.PASSWORD_INVALID, problem)
    return hash_password(password)


@router.get("/api/v2/iam/users", summary="List users")
async def list_users(
    db: DbDep,
    keyword: str | None = Query(None, max_length=64),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("USER:*:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        total, rows = await store.list_users(conn, keyword, pq)
        roles = await store.roles_of(conn, [r.id for r in rows])
        locks = await lockout.locks_of(conn, [r.username for r in rows])
    return paged([_user_json(r, roles[r.id], locks) for r in rows], pq.result_page(total))


@router.post("/api/v2/iam/users", summary="Create a user")
async def create_user(
    db: DbDep, body: UserCreate, _: Principal = Depends(require("USER:*:CREATE"))
) -> OcpJSONResponse:
    password_hash = await anyio.to_thread.run_sync(_new_password_hash_checked, body.password)
    try:
        async with db.tx() as conn:
            user_id = await store.create_user(
                conn, body.username, password_hash, body.roles, email=body.email, description=body.description
            )
            view = await _user_view(conn, user_id)
            await audit.record(conn, resource_id=user_id)
    except IntegrityError as exc:  # a concurrent creation of the same name won the race
        raise ObcpError(ErrorCode.NAME_EXISTS, "user", body.username) from exc
    return ok(view)


@router.get("/api/v2/iam/users/{userId}", summary="A user")
async def get_user(
    db: DbDep, userId: IdPath, _: Principal = Depends(require("USER:{userId}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        return ok(await _user_view(conn, userId))


@router.delete("/api/v2/iam/users/{userId}", summary="Delete a user")
async def delete_user(
    db: DbDep, userId: IdPath, me: Principal = Depends(require("USER:{userId}:DELETE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.delete_user(conn, userId, by_user_id=me.id)
        await audit.record(conn)
    return no_data()


@router.put("/api/v2/iam/users/{userId}/roles", summary="Set the roles of a user")
async def set_roles(
    request: Request,
    db: DbDep,
    userId: IdPath,
    body: RolesUpdate,
    me: Principal = Depends(require("USER:{userId}:UPDATE")),
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.replace_user_roles(conn, userId, body.roles)
        view = await _user_view(conn, userId)
        await audit.record(conn)
    if me.id == userId:
        await sessions.keep_current(db, request.scope, me.id)
    return ok(view)


@router.post("/api/v2/iam/users/{userId}/unlock", summary="Unlock a user locked by failed logins")
async def unlock_user(
    db: DbDep, userId: IdPath, _: Principal = Depends(require("USER:{userId}:UPDATE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        row = await store.get_user(conn, userId)
        await lockout.unlock(conn, row.username)
        view = await _user_view(conn, userId)
        await audit.record(conn)
    return ok(view)


@router.post("/api/v2/iam/users/{userId}/changePassword", summary="Set a user's password (administrators)")
async def reset_password(
    request: Request,
    db: DbDep,
    userId: IdPath,
    body: PasswordReset,
    me: Principal = Depends(require("USER:{userId}:UPDATE")),
) -> OcpJSONResponse:
    password_hash = await anyio.to_thread.run_sync(_new_password_hash_checked, body.password)
    async with db.tx() as conn:
        await store.get_user(conn, userId)
        await store.set_password_hash(conn, userId, password_hash)
        await audit.record(conn)
    if me.id == userId:
        await sessions.keep_current(db, request.scope, me.id)
    return no_data()


@router.get("/api/v2/iam/current/user", summary="The current user")
async def current_user(db: DbDep, me: Principal = Depends(authenticated)) -> OcpJSONResponse:
    async with db.read() as conn:
        view = await _user_view(conn, me.id)
    view["permissions"] = sorted(me.permissions)
    return ok(view)


@router.post("/api/v2/iam/current/user/changePassword", summary="Change one's own password")
async def change_own_password(
    request: Request, db: DbDep, body: PasswordChange, me: Principal = Depends(authenticated)
) -> OcpJSONResponse:
    audit.name_resource(me.id)
    async with db.read() as conn:
        row = await store.get_user(conn, me.id)
    if not await anyio.to_thread.run_sync(verify_password, row.password_hash, body.currentPassword):
        raise ObcpError(ErrorCode.WRONG_PASSWORD)
    password_hash = await anyio.to_thread.run_sync(_new_password_hash_checked, body.newPassword)
    async with db.tx() as conn:
        await store.set_password_hash(conn, me.id, password_hash)
        await audit.record(conn)
    # The user's other sessions and cached credentials have ended; the one that made the change goes on.
    await sessions.keep_current(db, request.scope, me.id)
    return no_data()


@router.get("/api/v2/iam/roles", summary="List roles")
async def list_roles(
    db: DbDep,
    keyword: str | None = Query(None, max_length=64),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("ROLE:*:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        total, rows = await store.list_roles(conn, keyword, pq)
    return paged([_role_json(r) for r in rows], pq.result_page(total))


@router.post("/api/v2/iam/roles", summary="Create a role")
async def create_role(
    db: DbDep, body: RoleCreate, _: Principal = Depends(require("ROLE:*:CREATE"))
) -> OcpJSONResponse:
    try:
        async with db.tx() as conn:
            role_id = await store.create_role(conn, body.name, body.description, body.permissions)
            row = await store.get_role(conn, role_id)
            await audit.record(conn, resource_id=role_id)
    except IntegrityError as exc:  # a concurrent creation of the same name won the race
        raise ObcpError(ErrorCode.NAME_EXISTS, "role", body.name) from exc
    return ok(_role_json(row))


@router.get("/api/v2/iam/roles/{roleId}", summary="A role")
async def get_role(
    db: DbDep, roleId: IdPath, _: Principal = Depends(require("ROLE:{roleId}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        return ok(_role_json(await store.get_role(conn, roleId)))


@router.put("/api/v2/iam/roles/{roleId}", summary="Change a role's permissions")
async def update_role(
    db: DbDep,
    roleId: IdPath,
    body: RoleUpdate,
    _: Principal = Depends(require("ROLE:{roleId}:UPDATE")),
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.update_role(conn, roleId, body.description, body.permissions)
        row = await store.get_role(conn, roleId)
        await audit.record(conn)
    return ok(_role_json(row))


@router.delete("/api/v2/iam/roles/{roleId}", summary="Delete a role")
async def delete_role(
    db: DbDep, roleId: IdPath, _: Principal = Depends(require("ROLE:{roleId}:DELETE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await store.delete_role(conn, roleId)
        await audit.record(conn)
    return no_data()
