"""The owner of the host types and the profile credentials that OCP's takeover call names (their tables are
in `meta/takeover_tables.py`): nothing else reads or writes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.paging import Pager
from obcp.meta.reencrypt import Rotated, reencrypt_column
from obcp.meta.takeover_tables import compute_host_type, profile_credential
from obcp.secretbox import SecretBox

HT = compute_host_type.c
PC = profile_credential.c


async def list_host_types(conn: AsyncConnection, pager: Pager) -> tuple[list[Any], int]:
    total = (await conn.execute(select(func.count()).select_from(compute_host_type))).scalar_one()
    sortable: dict[str, ColumnElement[Any]] = {"id": HT.id, "name": HT.name}
    rows = (await conn.execute(pager.apply(select(compute_host_type), sortable, HT.id))).all()
    return list(rows), int(total)


async def create_host_type(conn: AsyncConnection, name: str, description: str | None) -> Any:
    if (await conn.execute(select(HT.id).where(HT.name == name))).first() is not None:
        raise ObcpError(ErrorCode.NAME_EXISTS, "host type", name)
    now = now_ms()
    values = {"name": name, "description": description, "created_at": now, "updated_at": now}
    new_id = inserted_id(await conn.execute(compute_host_type.insert().values(**values)))
    return (await conn.execute(select(compute_host_type).where(HT.id == new_id))).one()


async def host_type_exists(conn: AsyncConnection, host_type_id: int) -> bool:
    return (await conn.execute(select(HT.id).where(HT.id == host_type_id))).first() is not None


async def list_credentials(conn: AsyncConnection, user_id: int | None, pager: Pager) -> tuple[list[Any], int]:
    mine = PC.user_id == user_id
    total = (
        await conn.execute(select(func.count()).select_from(profile_credential).where(mine))
    ).scalar_one()
    sortable: dict[str, ColumnElement[Any]] = {"id": PC.id, "name": PC.name}
    rows = (await conn.execute(pager.apply(select(profile_credential).where(mine), sortable, PC.id))).all()
    return list(rows), int(total)


async def create_credential(conn: AsyncConnection, user_id: int | None, name: str, **values: Any) -> Any:
    """`values`: target_type, description, ssh_type, ssh_username and secret_enc (already encrypted)."""
    taken = select(PC.id).where(PC.user_id == user_id, PC.name == name)
    if (await conn.execute(taken)).first() is not None:
        raise ObcpError(ErrorCode.NAME_EXISTS, "credential", name)
    now = now_ms()
    row = {"user_id": user_id, "name": name, **values, "created_at": now, "updated_at": now}
    new_id = inserted_id(await conn.execute(profile_credential.insert().values(**row)))
    return (await conn.execute(select(profile_credential).where(PC.id == new_id))).one()


async def own_credential_exists(conn: AsyncConnection, user_id: int | None, credential_id: int) -> bool:
    query = select(PC.id).where(PC.id == credential_id, PC.user_id == user_id)
    return (await conn.execute(query)).first() is not None


async def reencrypt_credentials(db: Database, box: SecretBox) -> Rotated:
    """The profile credentials' secrets, re-encrypted under the box's writing key (key rotation)."""
    return await reencrypt_column(db, profile_credential, PC.id, PC.secret_enc, box)
