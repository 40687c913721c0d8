"""Users and roles in the metadb."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.iam.passwords import hash_password
from obcp.iam.permissions import DEFAULT_ROLES, allows, validate
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.paging import Pager
from obcp.meta.tables import iam_role, iam_user, iam_user_role

ADMIN_USER = "admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    id: int
    username: str
    roles: tuple[str, ...]
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return allows(self.permissions, permission)


def role_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "permissions": json.loads(row.permissions),
        "builtin": bool(row.builtin),
        "createTime": row.created_at,
        "updateTime": row.updated_at,
    }


async def roles_of(conn: AsyncConnection, user_ids: list[int]) -> dict[int, list[Any]]:
    rows = (
        await conn.execute(
            select(iam_user_role.c.user_id, iam_role)
            .join(iam_role, iam_role.c.id == iam_user_role.c.role_id)
            .where(iam_user_role.c.user_id.in_(user_ids))
            .order_by(iam_role.c.name)
        )
    ).all()
    result: dict[int, list[Any]] = {uid: [] for uid in user_ids}
    for row in rows:
        result[row.user_id].append(row)
    return result


# Every authenticated request reads its user and the user's roles: both statements are built once, and a
# role's permissions parsed once per text (bench/fleet: 150 followers, ~200 requests a second).
_USER_NAMED = select(iam_user).where(iam_user.c.username == bindparam("b_name"))
_ROLES_OF_USER = (
    select(iam_role.c.name, iam_role.c.permissions)
    .join(iam_user_role, iam_role.c.id == iam_user_role.c.role_id)
    .where(iam_user_role.c.user_id == bindparam("b_user"))
    .order_by(iam_role.c.name)
)
_parsed: dict[str, frozenset[str]] = {}


async def principal(conn: AsyncConnection, user_row: Any) -> Principal:
    roles = (await conn.execute(_ROLES_OF_USER, {"b_user": user_row.id})).all()
    return principal_of(user_row, [(r.name, r.permissions) for r in roles])


def principal_of(user_row: Any, roles: list[tuple[str, str]]) -> Principal:
    """The principal of a user with its roles' (name, permissions text), sorted by name."""
    perms: frozenset[str] = frozenset().union(*(_permissions(text) for _, text in roles))
    return Principal(user_row.id, user_row.username, tuple(name for name, _ in roles), perms)


# Every request with a cached Basic credential reads its user and the user's roles again (a lock, a
# password or role change takes effect at once): one round trip for both.
_USER_AND_ROLES = (
    select(iam_user, iam_role.c.name.label("obcp_role_name"), iam_role.c.permissions.label("obcp_role_perms"))
    .select_from(
        iam_user.outerjoin(iam_user_role, iam_user_role.c.user_id == iam_user.c.id).outerjoin(
            iam_role, iam_role.c.id == iam_user_role.c.role_id
        )
    )
    .where(iam_user.c.username == bindparam("b_name"))
    .order_by(iam_user.c.id, iam_role.c.name)
)


def user_and_roles(conn: Connection, username: str) -> tuple[Any, list[tuple[str, str]]]:
    """The user whose name is exactly `username` (None if none) and its roles' (name, permissions text),
    sorted by name, in one statement (synchronous, for `Database.read_whole`)."""
    user: Any = None
    roles: list[tuple[str, str]] = []
    for row in conn.execute(_USER_AND_ROLES, {"b_name": username}):
        # MySQL's default collation also finds "ADMIN" or "admin " for "admin".
        if row.username != username:
            continue
        user = row
        if row.obcp_role_name is not None:
            roles.append((row.obcp_role_name, row.obcp_role_perms))
    return user, roles


def _permissions(text: str) -> frozenset[str]:
    parsed = _parsed.get(text)
    if parsed is None:
        if len(_parsed) > 1024:
            _parsed.clear()
        parsed = _parsed[text] = frozenset(json.loads(text))
    return parsed


async def find_user(conn: AsyncConnection, username: str) -> Any:
    return (await conn.execute(_USER_NAMED, {"b_name": username})).first()


async def find_user_by_id(conn: AsyncConnection, user_id: int) -> Any:
    return (await conn.execute(select(iam_user).where(iam_user.c.id == user_id))).first()


async def get_user(conn: AsyncConnection, user_id: int) -> Any:
    row = await find_user_by_id(conn, user_id)
    if row is None:
        raise ObcpError(ErrorCode.NOT_FOUND, "user", f"id={user_id}")
    return row


async def role_ids(conn: AsyncConnection, names: list[str]) -> list[int]:
    rows = (
        await conn.execute(select(iam_role.c.id, iam_role.c.name).where(iam_role.c.name.in_(names)))
    ).all()
    found = {r.name: r.id for r in rows}
    missing = [n for n in names if n not in found]
    if missing:
        raise ObcpError(ErrorCode.NOT_FOUND, "role", ", ".join(missing))
    return [found[n] for n in names]


async def set_user_roles(conn: AsyncConnection, user_id: int, names: list[str]) -> None:
    ids = await role_ids(conn, sorted(set(names)))
    await conn.execute(delete(iam_user_role).where(iam_user_role.c.user_id == user_id))
    if ids:
        await conn.execute(insert(iam_user_role), [{"user_id": user_id, "role_id": rid} for rid in ids])


async def create_user(
    conn: AsyncConnection,
    username: str,
    password_hash: str,
    roles: list[str],
    email: str | None = None,
    description: str | None = None,
) -> int:
    if await find_user(conn, username) is not None:
        raise ObcpError(ErrorCode.NAME_EXISTS, "user", username)
    now = now_ms()
    result = await conn.execute(
        insert(iam_user).values(
            username=username,
            password_hash=password_hash,
            email=email,
            description=description,
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    )
    user_id = inserted_id(result)
    await set_user_roles(conn, user_id, roles)
    return user_id


def check_permissions(expressions: list[str]) -> None:
    for expr in expressions:
        if not validate(expr):
            raise ObcpError(ErrorCode.PERMISSION_INVALID, expr)


async def create_role(
    conn: AsyncConnection, name: str, description: str | None, permissions: list[str]
) -> int:
    check_permissions(permissions)
    exists = (await conn.execute(select(iam_role.c.id).where(iam_role.c.name == name))).first()
    if exists is not None:
        raise ObcpError(ErrorCode.NAME_EXISTS, "role", name)
    now = now_ms()
    result = await conn.execute(
        insert(iam_role).values(
            name=name,
            description=description,
            permissions=json.dumps(sorted(set(permissions))),
            builtin=False,
            created_at=now,
            updated_at=now,
        )
    )
    return inserted_id(result)


async def ensure_defaults(db: Database, admin_password: str | None) -> str | None:
    """Create the default roles and the `admin` user if missing; returns a generated admin password, if any.

    Safe when several replicas start at once: a duplicate insert by another replica is ignored.
    """
    from sqlalchemy.exc import IntegrityError

    now = now_ms()
    for name, (description, perms) in DEFAULT_ROLES.items():
        try:
            async with db.tx() as conn:
                if (await conn.execute(select(iam_role.c.id).where(iam_role.c.name == name))).first() is None:
                    await conn.execute(
                        insert(iam_role).values(
                            name=name,
                            description=description,
                            permissions=json.dumps(perms),
                            builtin=True,
                            created_at=now,
                            updated_at=now,
                        )
                    )
        except IntegrityError:
            pass
    generated = None
    async with db.read() as conn:
        exists = await find_user(conn, ADMIN_USER) is not None
    if not exists:
        password = admin_password
        if not password:
            password = generated = secrets.token_urlsafe(12)
        try:
            async with db.tx() as conn:
                await create_user(
                    conn, ADMIN_USER, hash_password(password), ["ADMIN"], description="built-in"
                )
        except (IntegrityError, ObcpError):
            generated = None
    return generated


async def set_password_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    """Sets the password, and ends the user's sessions and cached credentials made with the old one."""
    await conn.execute(
        update(iam_user)
        .where(iam_user.c.id == user_id)
        .values(
            password_hash=password_hash,
            credential_epoch=iam_user.c.credential_epoch + 1,
            updated_at=now_ms(),
        )
    )


async def end_credentials(conn: AsyncConnection, user_id: int) -> int:
    """Ends every console session and cached credential of the user, on every replica (each request reads
    the user's row, and compares its credential_epoch with the one the session or cache entry was made
    under). Returns the new epoch."""
    await conn.execute(
        update(iam_user)
        .where(iam_user.c.id == user_id)
        .values(credential_epoch=iam_user.c.credential_epoch + 1)
    )
    epoch = (await conn.execute(select(iam_user.c.credential_epoch).where(iam_user.c.id == user_id))).scalar()
    return int(epoch or 0)


# The sort fields of the user and role lists.
USER_SORTS: dict[str, ColumnElement[Any]] = {
    "id": iam_user.c.id,
    "username": iam_user.c.username,
    "createTime": iam_user.c.created_at,
}
ROLE_SORTS: dict[str, ColumnElement[Any]] = {"id": iam_role.c.id, "name": iam_role.c.name}


async def list_users(conn: AsyncConnection, keyword: str | None, pager: Pager) -> tuple[int, list[Any]]:
    """One page of the users whose name contains `keyword` (any case), and how many there are in all."""
    where = [iam_user.c.username.icontains(keyword, autoescape=True)] if keyword else []
    total = (await conn.execute(select(func.count()).select_from(iam_user).where(*where))).scalar_one()
    rows = (await conn.execute(pager.apply(select(iam_user).where(*where), USER_SORTS, iam_user.c.id))).all()
    return total, list(rows)


async def delete_user(conn: AsyncConnection, user_id: int, by_user_id: int) -> None:
    """Deletes a user and its role grants; never the built-in admin, never the caller (`by_user_id`)."""
    row = await get_user(conn, user_id)
    if row.username == ADMIN_USER:
        raise ObcpError(ErrorCode.USER_BUILTIN, ADMIN_USER)
    if row.id == by_user_id:
        raise ObcpError(ErrorCode.DELETE_SELF)
    await conn.execute(delete(iam_user_role).where(iam_user_role.c.user_id == user_id))
    await conn.execute(delete(iam_user).where(iam_user.c.id == user_id))


async def replace_user_roles(conn: AsyncConnection, user_id: int, names: list[str]) -> None:
    """Gives an existing user exactly these roles; the built-in admin keeps ADMIN."""
    row = await get_user(conn, user_id)
    if row.username == ADMIN_USER and "ADMIN" not in names:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, "roles (the built-in admin keeps the ADMIN role)")
    await set_user_roles(conn, user_id, names)
    await conn.execute(
        update(iam_user)
        .where(iam_user.c.id == user_id)
        .values(updated_at=now_ms(), credential_epoch=iam_user.c.credential_epoch + 1)
    )


async def list_roles(conn: AsyncConnection, keyword: str | None, pager: Pager) -> tuple[int, list[Any]]:
    """One page of the roles whose name contains `keyword` (any case), and how many there are in all."""
    where = [iam_role.c.name.icontains(keyword, autoescape=True)] if keyword else []
    total = (await conn.execute(select(func.count()).select_from(iam_role).where(*where))).scalar_one()
    rows = (await conn.execute(pager.apply(select(iam_role).where(*where), ROLE_SORTS, iam_role.c.id))).all()
    return total, list(rows)


async def get_role(conn: AsyncConnection, role_id: int) -> Any:
    row = (await conn.execute(select(iam_role).where(iam_role.c.id == role_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.NOT_FOUND, "role", f"id={role_id}")
    return row


async def update_role(
    conn: AsyncConnection, role_id: int, description: str | None, permissions: list[str]
) -> None:
    """Sets a custom role's description and permissions; the built-in roles do not change."""
    check_permissions(permissions)
    row = await get_role(conn, role_id)
    if row.builtin:
        raise ObcpError(ErrorCode.ROLE_BUILTIN, row.name)
    await conn.execute(
        update(iam_role)
        .where(iam_role.c.id == role_id)
        .values(
            description=description, permissions=json.dumps(sorted(set(permissions))), updated_at=now_ms()
        )
    )


async def delete_role(conn: AsyncConnection, role_id: int) -> None:
    """Deletes a custom role and its grants; the built-in roles stay."""
    row = await get_role(conn, role_id)
    if row.builtin:
        raise ObcpError(ErrorCode.ROLE_BUILTIN, row.name)
    await conn.execute(delete(iam_user_role).where(iam_user_role.c.role_id == role_id))
    await conn.execute(delete(iam_role).where(iam_role.c.id == role_id))
