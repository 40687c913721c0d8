"""Access keys in the metadb: at most five per user, the secret encrypted, shown once at creation.

A key acts as its user. Its row (and its user's) is read at every signed request, so disabling or deleting
a key, or disabling its user, takes effect at once on every replica.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.access_key_tables import iam_access_key, iam_access_key_replay
from obcp.meta.db import Database, now_ms
from obcp.meta.reencrypt import Rotated, reencrypt_column
from obcp.meta.tables import iam_user
from obcp.secretbox import SecretBox
from obcp.timefmt import iso_ms

MAX_KEYS_PER_USER = 5
ACTIVE = "ACTIVE"
DISABLED = "DISABLED"
STATUSES = (ACTIVE, DISABLED)
# last_used_at is written at most this often per key, so signed reads do not all turn into writes.
TOUCH_MS = 60_000
_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def key_json(row: Any) -> dict[str, Any]:
    """A key as the API shows it: never its secret."""
    return {
        "accessKeyId": row.access_key_id,
        "userId": row.user_id,
        "description": row.description,
        "status": row.status,
        "createTime": iso_ms(row.created_at),
        "updateTime": iso_ms(row.updated_at),
        "lastUsedTime": iso_ms(row.last_used_at),
    }


async def list_keys(conn: AsyncConnection, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(iam_access_key).where(iam_access_key.c.user_id == user_id).order_by(iam_access_key.c.id)
    )
    return [key_json(r) for r in rows]


async def create_key(
    conn: AsyncConnection, box: SecretBox, user_id: int, username: str, description: str | None
) -> tuple[dict[str, Any], str]:
    """A new ACTIVE key of the user: (its view, its secret). The 6th key is refused."""
    # Locks the user's row (PostgreSQL, MySQL; SQLite's write transaction is exclusive anyway), so two
    # concurrent creations cannot both see four keys.
    await conn.execute(select(iam_user.c.id).where(iam_user.c.id == user_id).with_for_update())
    count = (
        await conn.execute(
            select(func.count()).select_from(iam_access_key).where(iam_access_key.c.user_id == user_id)
        )
    ).scalar_one()
    if count >= MAX_KEYS_PER_USER:
        raise ObcpError(
            ErrorCode.BAD_REQUEST,
            f"user {username} already has {count} access keys, the most allowed; delete one first",
        )
    secret = _random(40)
    now = now_ms()
    values = {
        "access_key_id": "AK" + _random(22),
        "user_id": user_id,
        "secret_enc": box.encrypt(secret),
        "description": description,
        "status": ACTIVE,
        "created_at": now,
        "updated_at": now,
        "last_used_at": None,
    }
    await conn.execute(insert(iam_access_key).values(**values))
    row = (
        await conn.execute(
            select(iam_access_key).where(iam_access_key.c.access_key_id == values["access_key_id"])
        )
    ).one()
    return key_json(row), secret


async def _owned(conn: AsyncConnection, user_id: int, access_key_id: str) -> Any:
    row = (
        await conn.execute(
            select(iam_access_key).where(
                iam_access_key.c.access_key_id == access_key_id, iam_access_key.c.user_id == user_id
            )
        )
    ).first()
    # MySQL's collation compares case-insensitively: only the exact id is the key.
    if row is None or row.access_key_id != access_key_id:
        raise ObcpError(ErrorCode.NOT_FOUND, "access key", access_key_id)
    return row


async def set_status(conn: AsyncConnection, user_id: int, access_key_id: str, status: str) -> dict[str, Any]:
    row = await _owned(conn, user_id, access_key_id)
    await conn.execute(
        update(iam_access_key).where(iam_access_key.c.id == row.id).values(status=status, updated_at=now_ms())
    )
    return key_json((await conn.execute(select(iam_access_key).where(iam_access_key.c.id == row.id))).one())


async def delete_key(conn: AsyncConnection, user_id: int, access_key_id: str) -> None:
    row = await _owned(conn, user_id, access_key_id)
    await conn.execute(delete(iam_access_key).where(iam_access_key.c.id == row.id))


@dataclass(frozen=True)
class KeyOwner:
    """What verifying a signed request needs of a key and its user."""

    access_key_id: str
    status: str
    secret_enc: str
    last_used_at: int | None
    user: Any  # the iam_user row


async def find_key(conn: AsyncConnection, access_key_id: str) -> KeyOwner | None:
    row = (
        await conn.execute(select(iam_access_key).where(iam_access_key.c.access_key_id == access_key_id))
    ).first()
    if row is None or row.access_key_id != access_key_id:
        return None
    user = (await conn.execute(select(iam_user).where(iam_user.c.id == row.user_id))).one()
    return KeyOwner(row.access_key_id, row.status, row.secret_enc, row.last_used_at, user)


async def touch(db: Database, key: KeyOwner) -> None:
    now = now_ms()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_MS:
        return
    async with db.tx() as conn:
        await conn.execute(
            update(iam_access_key)
            .where(iam_access_key.c.access_key_id == key.access_key_id)
            .values(last_used_at=now)
        )


async def first_use(db: Database, access_key_id: str, signature: str, expires_at: int) -> bool:
    """Records a signature as used; False when it was already (on any replica). Prunes expired records."""
    digest = hashlib.sha256(f"{access_key_id}:{signature}".encode()).hexdigest()
    try:
        async with db.tx() as conn:
            await conn.execute(
                delete(iam_access_key_replay).where(iam_access_key_replay.c.expires_at < now_ms())
            )
            await conn.execute(
                insert(iam_access_key_replay).values(signature_hash=digest, expires_at=expires_at)
            )
    except IntegrityError:
        return False
    return True


async def reencrypt_secrets(db: Database, box: SecretBox) -> Rotated:
    """The access keys' secrets, re-encrypted under the box's writing key (the secret key's rotation)."""
    return await reencrypt_column(db, iam_access_key, iam_access_key.c.id, iam_access_key.c.secret_enc, box)
