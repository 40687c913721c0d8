"""Hosts and their agents in the metadb (the `compute_host` table's owner), and OCP's host JSON view.

The agent key is stored as the caller encrypted it and never leaves this module in a view.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.meta import inventory
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.paging import Pager
from obcp.meta.reencrypt import Rotated, reencrypt_column
from obcp.meta.tables import compute_host
from obcp.secretbox import SecretBox
from obcp.timefmt import iso_ms

# The sort fields of the host list.
HOST_SORTS: dict[str, ColumnElement[Any]] = {
    "id": compute_host.c.id,
    "name": compute_host.c.name,
    "createTime": compute_host.c.created_at,
}


def host_json(row: Any, services: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "address": row.address,
        "innerIpAddress": row.address,
        "agentPort": row.agent_port,
        "description": row.description,
        "status": "ONLINE",
        "services": services or [],
        "createTime": iso_ms(row.created_at),
        "updateTime": iso_ms(row.updated_at),
    }


async def host_views(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    """OCP's host objects, each with the clusters whose observers run on it as its services."""
    clusters = await inventory.clusters_on_hosts(conn, [r.id for r in rows])
    views = []
    for r in rows:
        services: list[dict[str, Any]] = []
        for c in clusters[r.id]:
            entry = {"type": "OB_CLUSTER", "name": f"{c.name}:{c.id}", "version": c.ob_version}
            if entry not in services:
                services.append(entry)
        views.append(host_json(r, services))
    return views


async def list_hosts(conn: AsyncConnection, keyword: str | None, pager: Pager) -> tuple[int, list[Any]]:
    """One page of the hosts whose name or address contains `keyword` (any case), and the total."""
    where = []
    if keyword:
        where.append(
            or_(
                compute_host.c.name.icontains(keyword, autoescape=True),
                compute_host.c.address.icontains(keyword, autoescape=True),
            )
        )
    total = (await conn.execute(select(func.count()).select_from(compute_host).where(*where))).scalar_one()
    query = pager.apply(select(compute_host).where(*where), HOST_SORTS, compute_host.c.id)
    return total, list((await conn.execute(query)).all())


async def host_by_address(conn: AsyncConnection, address: str) -> Any:
    """The registered host of that address, or None."""
    return (await conn.execute(select(compute_host).where(compute_host.c.address == address))).first()


async def get_host(conn: AsyncConnection, host_id: int) -> Any:
    row = (await conn.execute(select(compute_host).where(compute_host.c.id == host_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.HOST_NOT_FOUND, host_id)
    return row


async def create_host(
    conn: AsyncConnection,
    name: str,
    address: str,
    agent_port: int,
    agent_key_enc: str,
    description: str | None,
) -> Any:
    """Registers a host (one per address) and answers its row."""
    exists = (await conn.execute(select(compute_host.c.id).where(compute_host.c.address == address))).first()
    if exists is not None:
        raise ObcpError(ErrorCode.HOST_EXISTS, address, agent_port)
    now = now_ms()
    result = await conn.execute(
        compute_host.insert().values(
            name=name,
            address=address,
            agent_port=agent_port,
            agent_key_enc=agent_key_enc,
            description=description,
            created_at=now,
            updated_at=now,
        )
    )
    return await get_host(conn, inserted_id(result))


async def update_host(
    conn: AsyncConnection,
    host_id: int,
    agent_port: int | None = None,
    agent_key_enc: str | None = None,
    description: str | None = None,
) -> Any:
    """Changes what is given of a host's agent port, (encrypted) agent key and description; answers the
    host's row."""
    values: dict[str, Any] = {"updated_at": now_ms()}
    if agent_port is not None:
        values["agent_port"] = agent_port
    if agent_key_enc is not None:
        values["agent_key_enc"] = agent_key_enc
    if description is not None:
        values["description"] = description
    result = await conn.execute(update(compute_host).where(compute_host.c.id == host_id).values(**values))
    if result.rowcount != 1:
        raise ObcpError(ErrorCode.HOST_NOT_FOUND, host_id)
    return await get_host(conn, host_id)


async def delete_host(conn: AsyncConnection, host_id: int) -> None:
    """Deletes a host that runs no observer of a managed cluster."""
    row = await get_host(conn, host_id)
    used = await inventory.server_on_host(conn, host_id)
    if used is not None:
        raise ObcpError(
            ErrorCode.HOST_IN_USE, row.address, f"OBServer {used.id} of cluster {used.cluster_name}"
        )
    await conn.execute(delete(compute_host).where(compute_host.c.id == host_id))


async def reencrypt_agent_keys(db: Database, box: SecretBox) -> Rotated:
    """The agent keys, re-encrypted under the box's writing key (the secret key's rotation)."""
    return await reencrypt_column(db, compute_host, compute_host.c.id, compute_host.c.agent_key_enc, box)
