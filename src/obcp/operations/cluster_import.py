"""Importing a described cluster (its hosts with their agents, its servers by address): first checked
against what the observers and agents answer, then written in one transaction, hosts and cluster alike.

The check is the whole of a dry run and the first half of a real import: nothing is written while any
server, agent or observer disagrees with the description.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.agent.client import AgentClient, AgentError
from obcp.meta import inventory
from obcp.meta.db import inserted_id, now_ms
from obcp.meta.tables import compute_host
from obcp.ob.connection import Connector
from obcp.ob.topology_diff import DescribedServer, ReadBack, differences, read_back
from obcp.secretbox import SecretBox

AGENT_CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ImportHost:
    address: str
    agent_port: int
    agent_key: str = ""
    name: str | None = None

    def __repr__(self) -> str:  # the key stays out of every log line
        return f"ImportHost({self.address}:{self.agent_port})"


@dataclass(frozen=True)
class ImportRequest:
    """A cluster as described: `servers[i].name` is its observer's name in its host agent's config."""

    name: str
    root_password: str
    ob_cluster_id: int | None
    hosts: Sequence[ImportHost]
    servers: Sequence[DescribedServer]


@dataclass(frozen=True)
class ImportCheck:
    read_backs: list[ReadBack]
    differences: list[str]

    @property
    def agrees(self) -> bool:
        return not self.differences

    @property
    def ob_version(self) -> str | None:
        for r in self.read_backs:
            if r.topology is not None:
                return r.topology.capability.version_text
        return None


async def check_import(
    request: ImportRequest, connect: Connector, agent_tls: ssl.SSLContext | None = None
) -> ImportCheck:
    """Reads the topology back from every described observer and asks every host's agent for its
    observers; every disagreement with the description is named."""
    read_backs = await read_back(request.servers, request.root_password, connect)
    found = differences(read_backs)
    for host in request.hosts:
        on_host = [s for s in request.servers if s.address == host.address]
        found += await _agent_differences(host, on_host, agent_tls)
    return ImportCheck(read_backs, found)


async def _agent_differences(
    host: ImportHost, servers: Sequence[DescribedServer], agent_tls: ssl.SSLContext | None
) -> list[str]:
    try:
        async with AgentClient(
            host.address,
            host.agent_port,
            host.agent_key,
            timeout=AGENT_CHECK_TIMEOUT,
            retries=0,
            tls=agent_tls,
        ) as client:
            observers = {o["name"]: o for o in await client.list_observers()}
    except AgentError as exc:
        return [f"host {host.address}: its agent at port {host.agent_port} does not answer: {exc}"]
    found = []
    for s in servers:
        seen = observers.get(s.name)
        if seen is None:
            known = ", ".join(sorted(observers)) or "none"
            found.append(f"{s}: the agent on {host.address} has no observer named {s.name} (it has: {known})")
        elif int(seen["sqlPort"]) != s.sql_port:
            found.append(f"{s}: the agent on {host.address} runs {s.name} on SQL port {seen['sqlPort']}")
    return found


def check_json(check: ImportCheck) -> dict[str, Any]:
    """A dry run's answer: each described server with what answered there, and the differences."""
    servers = []
    for r in check.read_backs:
        entry: dict[str, Any] = {
            "observerName": r.server.name,
            "address": r.server.address,
            "sqlPort": r.server.sql_port,
            "rpcPort": r.server.rpc_port,
            "zoneName": r.server.zone,
            "answered": r.topology is not None,
        }
        if r.topology is not None:
            entry["obKind"] = r.topology.capability.kind.value
            entry["obVersion"] = r.topology.capability.version_text
        servers.append(entry)
    return {"agrees": check.agrees, "differences": check.differences, "obVersion": check.ob_version,
            "servers": servers}  # fmt: skip


async def register_import(
    conn: AsyncConnection, request: ImportRequest, box: SecretBox, creator: str, ob_version: str | None
) -> int:
    """Hosts (registered, or their agent port and key updated) and the cluster, in the caller's
    transaction; answers the cluster's id."""
    host_ids = {h.address: await _upsert_host(conn, h, box) for h in request.hosts}
    zones: dict[str, list[inventory.NewServer]] = {}
    for s in request.servers:
        server = inventory.NewServer(host_ids[s.address], s.sql_port, s.rpc_port, s.name)
        zones.setdefault(s.zone, []).append(server)
    cluster = inventory.NewCluster(
        name=request.name,
        ob_cluster_id=request.ob_cluster_id or 1,
        ob_version=ob_version,
        root_password_enc=box.encrypt(request.root_password),
        creator=creator,
        zones=[inventory.NewZone(name, None, None, servers) for name, servers in zones.items()],
    )
    return await inventory.register_cluster(conn, cluster)


async def _upsert_host(conn: AsyncConnection, host: ImportHost, box: SecretBox) -> int:
    now = now_ms()
    agent = {"agent_port": host.agent_port, "agent_key_enc": box.encrypt(host.agent_key), "updated_at": now}
    row = (
        await conn.execute(select(compute_host.c.id).where(compute_host.c.address == host.address))
    ).first()
    if row is not None:
        await conn.execute(update(compute_host).where(compute_host.c.id == row.id).values(**agent))
        return int(row.id)
    values = {"name": host.name or host.address, "address": host.address, "created_at": now, **agent}
    return inserted_id(await conn.execute(compute_host.insert().values(**values)))
