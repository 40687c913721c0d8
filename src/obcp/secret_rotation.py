"""Rotating the secret key: every stored secret re-encrypted under `secret.key.new`, then that key made the
only one (docs/security.md, "Rotating the secret key"). Each encrypted column is re-encrypted by its table's
owner."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Column

from obcp.iam import access_keys
from obcp.meta import hosts, inventory, takeover_prereqs
from obcp.meta.access_key_tables import iam_access_key
from obcp.meta.alarm_tables import alarm_channel
from obcp.meta.db import Database
from obcp.meta.reencrypt import Rotated, key_census
from obcp.meta.tables import compute_host, ob_cluster
from obcp.meta.takeover_tables import profile_credential
from obcp.notify import channels
from obcp.secretbox import SecretBox, new_key_path

Rotation = Callable[[Database, SecretBox], Awaitable[Rotated]]

# Every encrypted column of the metadb, with the owner's function that re-encrypts it.
COLUMNS: tuple[tuple[str, Column[str], Rotation], ...] = (
    ("ob_cluster.root_password_enc", ob_cluster.c.root_password_enc, inventory.reencrypt_root_passwords),
    ("compute_host.agent_key_enc", compute_host.c.agent_key_enc, hosts.reencrypt_agent_keys),
    ("iam_access_key.secret_enc", iam_access_key.c.secret_enc, access_keys.reencrypt_secrets),
    (
        "profile_credential.secret_enc",
        profile_credential.c.secret_enc,
        takeover_prereqs.reencrypt_credentials,
    ),
    ("alarm_channel.secret_enc", alarm_channel.c.secret_enc, channels.reencrypt_secrets),
    ("alarm_channel.headers_enc", alarm_channel.c.headers_enc, channels.reencrypt_headers),
)


class RotationError(Exception):
    """What stops a rotation step, said for the operator."""


async def rotate(db: Database, box: SecretBox) -> list[Rotated]:
    """Re-encrypts every stored secret under the box's writing key (`secret.key.new`, which must exist)."""
    if len(box.key_ids) < 2:
        raise RotationError(
            "there is no secret.key.new beside secret.key: make one with `obcp secrets new-key` and copy it "
            "to every replica first"
        )
    return [await reencrypt(db, box) for _, _, reencrypt in COLUMNS]


async def census(db: Database) -> dict[str, Counter[str]]:
    """Per encrypted column, how many values each key id wrote."""
    return {name: await key_census(db, column) for name, column, _ in COLUMNS}


async def promote(db: Database, key_file: Path, box: SecretBox) -> str:
    """Makes secret.key.new the only key, once no stored secret needs the old one; returns the key id."""
    new = new_key_path(key_file)
    if not new.exists():
        raise RotationError(f"{new} does not exist: there is nothing to promote")
    writer = box.writing_key_id
    left = {
        name: sum(n for kid, n in counts.items() if kid != writer)
        for name, counts in (await census(db)).items()
    }
    if any(left.values()):
        detail = ", ".join(f"{name}: {n}" for name, n in left.items() if n)
        raise RotationError(f"secrets still need the old key ({detail}): run `obcp secrets rotate` first")
    os.replace(new, key_file)
    return writer
