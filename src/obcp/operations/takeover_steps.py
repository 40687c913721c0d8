"""OCP's takeover as a task: the cluster row exists (TAKINGOVER, root password stored) from the call; the
task discovers zones and servers from the cluster itself, finds the obcp agent that controls each
server, and only then writes the topology and sets the cluster RUNNING.

obcp installs no agent over SSH: every host must run one (started by the operator) and be registered
with its agent port and key. A host without one fails "Check host agents" with the host named and what to
do; a retry of the task after that resumes there.
"""

from __future__ import annotations

import json
from typing import Any

from obcp.agent.client import AgentClient, AgentError
from obcp.engine import RunContext, Subtask, Template, TemplateBuilder, register
from obcp.meta import hosts, inventory
from obcp.meta.statuses import ClusterStatus
from obcp.ob.connection import ObEndpoint
from obcp.ob.errors import ObSqlError
from obcp.ob.topology import read_topology
from obcp.ob.topology_diff import READ_BACK_TIMEOUTS
from obcp.operations.common import cluster_id
from obcp.operations.services import OperationServices

TAKE_OVER_CLUSTER = "Take over OB cluster"
ADDRESS = "takeover_address"
PORT = "takeover_port"
# JSON lists written by one step for the next: the servers found, then each with its host and observer.
DISCOVERED = "takeover_discovered_servers"
LOCATED = "takeover_located_servers"
AGENT_TIMEOUT = 10.0


def take_over_template() -> Template:
    return (
        TemplateBuilder(TAKE_OVER_CLUSTER)
        .then(DiscoverClusterTopology)
        .then(CheckHostAgents)
        .then(SaveClusterTopology)
        .build()
    )


@register
class DiscoverClusterTopology(Subtask):
    key = "obcp.operations.DiscoverClusterTopology"
    name = "Discover cluster topology"
    timeout = 120
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        services = OperationServices.of(ctx)
        cid = cluster_id(ctx)
        address, port = str(ctx.get(ADDRESS)), int(str(ctx.get(PORT)))
        endpoint = ObEndpoint(address, port, await services.root_password(cid))
        try:
            async with services.connect(endpoint, READ_BACK_TIMEOUTS) as ex:
                topology = await read_topology(ex)
        except ObSqlError as exc:
            raise RuntimeError(f"cannot read the topology of the cluster at {address}:{port}: {exc}") from exc
        zones = {z.name: z for z in topology.zones}
        found = [
            {
                # A standalone observer's SVR_IP is whatever it calls itself: the address it answered at
                # is the one its agent's host is registered under.
                "address": s.ip if topology.capability.distributed else address,
                "sqlPort": s.sql_port,
                "rpcPort": s.rpc_port,
                "zone": s.zone,
                "region": zones[s.zone].region if s.zone in zones else None,
                "idc": zones[s.zone].idc if s.zone in zones else None,
            }
            for s in topology.servers
        ]
        ctx.put(DISCOVERED, json.dumps(found))
        async with services.db.tx() as conn:
            await inventory.set_cluster_status(
                conn, cid, ClusterStatus.TAKINGOVER, ob_version=topology.capability.version_text
            )
        zone_names = ", ".join(topology.zone_names)
        ctx.log.info("%s %s: %d server(s) in zone(s) %s", topology.capability.product,
                     topology.capability.version_text, len(found), zone_names)  # fmt: skip

    async def rollback(self, ctx: RunContext) -> None:
        # Giving the takeover up leaves nothing behind: the cluster row the call made, which has no zones
        # until "Save cluster topology" (the last step, after which the task cannot fail), goes.
        cid = cluster_id(ctx)
        async with OperationServices.of(ctx).db.tx() as conn:
            if await inventory.zones_of(conn, [cid]):
                raise RuntimeError(f"cluster {cid} already has its zones: the takeover is not undone")
            await inventory.delete_empty_cluster(conn, cid)
        ctx.log.info("cluster %s removed: its takeover was rolled back", cid)


def _how_to_start(address: str) -> str:
    return (
        f"on {address}, write the agent's config (`obcp agent init-from-obd config.yaml --host {address}`) "
        f"and start it as the homes' owner (`obcp agent --config agent.toml --listen {address}:PORT`, or "
        "its systemd unit from `obcp agent install`)"
    )


@register
class CheckHostAgents(Subtask):
    key = "obcp.operations.CheckHostAgents"
    name = "Check host agents"
    timeout = 120
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        servers: list[dict[str, Any]] = json.loads(str(ctx.get(DISCOVERED)))
        problems: list[str] = []
        located: list[dict[str, Any]] = []
        for address in dict.fromkeys(s["address"] for s in servers):
            mine = [s for s in servers if s["address"] == address]
            try:
                located += await _locate(ctx, address, mine)
            except LookupError as exc:
                problems.append(str(exc))
        if problems:
            raise RuntimeError("; ".join(problems))
        ctx.put(LOCATED, json.dumps(located))
        for s in located:
            ctx.log.info("%s:%s is observer %s of the agent on host %s", s["address"], s["sqlPort"],
                         s["observerName"], s["hostId"])  # fmt: skip


async def _locate(ctx: RunContext, address: str, servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each server of the host with its host id and its observer's name in the host's agent."""
    services = OperationServices.of(ctx)
    async with services.db.read() as conn:
        host = await hosts.host_by_address(conn, address)
    if host is None:
        raise LookupError(
            f"host {address} has no obcp agent registered: {_how_to_start(address)}, register it "
            "(POST /api/v2/compute/hosts with its address, agentPort and agentKey), then retry this task"
        )
    key = services.box.decrypt(host.agent_key_enc)
    try:
        async with AgentClient(
            address, host.agent_port, key, timeout=AGENT_TIMEOUT, retries=0, tls=services.agent_tls
        ) as agent:
            observers = await agent.list_observers()
    except AgentError as exc:
        raise LookupError(
            f"host {address}: its obcp agent at port {host.agent_port} does not answer ({exc.message}): "
            f"{_how_to_start(address)}, then retry this task"
        ) from exc
    by_port = {int(o["sqlPort"]): str(o["name"]) for o in observers}
    missing = [s["sqlPort"] for s in servers if s["sqlPort"] not in by_port]
    if missing:
        has = ", ".join(f"{n} (SQL port {p})" for p, n in sorted(by_port.items())) or "none"
        raise LookupError(
            f"host {address}: its agent has no observer on SQL port(s) {', '.join(map(str, missing))} "
            f"(it has: {has}): add them to its config, restart it, then retry this task"
        )
    return [{**s, "hostId": host.id, "observerName": by_port[s["sqlPort"]]} for s in servers]


@register
class SaveClusterTopology(Subtask):
    key = "obcp.operations.SaveClusterTopology"
    name = "Save cluster topology"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        cid = cluster_id(ctx)
        servers: list[dict[str, Any]] = json.loads(str(ctx.get(LOCATED)))
        zones: dict[str, inventory.NewZone] = {}
        for s in servers:
            zone = zones.setdefault(s["zone"], inventory.NewZone(s["zone"], s["idc"], s["region"], []))
            zone.servers.append(
                inventory.NewServer(s["hostId"], s["sqlPort"], s["rpcPort"], s["observerName"])
            )
        async with OperationServices.of(ctx).db.tx() as conn:
            # Run again after a crash, the transaction either happened whole or not at all.
            if not await inventory.zones_of(conn, [cid]):
                await inventory.register_topology(conn, cid, list(zones.values()))
            await inventory.set_cluster_status(conn, cid, ClusterStatus.RUNNING)
        ctx.log.info("cluster %s: %d zone(s), %d server(s) under management", cid, len(zones), len(servers))
