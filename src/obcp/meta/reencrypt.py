"""Re-encrypting one column of stored secrets under the secret box's writing key (the rotation of the secret
key, `obcp.secret_rotation`). Each table's owner calls it for its own column: this module writes no table of
its own choosing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, select, update

from obcp.meta.db import Database
from obcp.secretbox import SecretBox, written_by

LEGACY = "(no key id)"
BATCH = 100


@dataclass
class Rotated:
    """What re-encrypting a column did."""

    column: str
    rotated: int = 0
    unchanged: int = 0
    # Primary keys of the values no key of this server decrypts (left as they are).
    unreadable: list[object] = field(default_factory=list)


async def reencrypt_column(
    db: Database, table: Table, key: Column[int], column: Column[str], box: SecretBox
) -> Rotated:
    """Re-encrypts every value of `column` not written by the box's writing key. Each update is guarded by the
    old value, so a value changed meanwhile (already written with the new key) is left alone."""
    result = Rotated(f"{table.name}.{column.name}")
    async with db.read() as conn:
        rows = (await conn.execute(select(key, column))).all()
    todo = []
    for pk, value in rows:
        if value is None:  # a nullable column with nothing stored
            continue
        if not box.needs_rotation(value):
            result.unchanged += 1
            continue
        try:
            todo.append((pk, value, box.encrypt(box.decrypt(value))))
        except ValueError:
            result.unreadable.append(pk)
    for start in range(0, len(todo), BATCH):
        async with db.tx() as conn:
            for pk, old, new in todo[start : start + BATCH]:
                done = await conn.execute(
                    update(table).where(key == pk, column == old).values({column.name: new})
                )
                result.rotated += done.rowcount
    return result


async def key_census(db: Database, column: Column[str]) -> Counter[str]:
    """How many values of the column each key id wrote (LEGACY: written before key ids)."""
    async with db.read() as conn:
        values = (await conn.execute(select(column))).scalars().all()
    return Counter(written_by(v) or LEGACY for v in values if v is not None)
