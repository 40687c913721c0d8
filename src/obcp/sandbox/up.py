"""`obcp sandbox up`: agents on 127.0.0.2…, observers initialised side by side, hosts and cluster registered.

Every step first checks whether it is already done (running agent, initialised observer, registered host,
existing cluster), so running `up` twice, or after `down`, brings back the same sandbox.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from obcp.agent.client import AgentClient, AgentError
from obcp.agent.ports import port_is_free
from obcp.sandbox.agent_processes import agent_process, pick_agent_port, start_agent, write_agent_files
from obcp.sandbox.server_api import ObcpApi
from obcp.sandbox.state import (
    SandboxSecrets,
    SandboxServer,
    SandboxState,
    host_address,
    load_secrets,
    load_state,
    save_secrets,
    save_state,
)

# Sandboxes planned at the same moment (parallel test runs) would pick the same free ports: each run may
# start its search elsewhere.
FIRST_SQL_PORT = int(os.environ.get("OBCP_SANDBOX_FIRST_SQL_PORT", "12881"))
AGENT_READY_SECONDS = 30.0
INIT_TIMEOUT_SECONDS = 240.0


class SandboxError(Exception):
    pass


@dataclass
class ServerApiSettings:
    url: str
    user: str
    password: str
    # The CA of an https:// server (OBCP_CA_FILE); None: the system's CAs.
    ca_file: Path | None = None


@dataclass
class UpResult:
    state: SandboxState
    seconds: float
    observers: list[dict[str, Any]]
    cluster_created: bool | None


def plan(root: Path, cluster_name: str, zones: int, per_zone: int) -> SandboxState:
    """The servers of a new sandbox: one loopback address each, distinct SQL ports (seekdb binds 0.0.0.0)."""
    servers: list[SandboxServer] = []
    taken: set[int] = set()
    port = FIRST_SQL_PORT
    for z in range(zones):
        for s in range(per_zone):
            while port in taken or not port_is_free(port):
                port += 1
            taken.add(port)
            address = host_address(len(servers))
            name = f"obs-zone{z + 1}-{s + 1}"
            servers.append(
                SandboxServer(
                    zone=f"zone{z + 1}",
                    observer_name=name,
                    address=address,
                    agent_port=pick_agent_port(address),
                    sql_port=port,
                    base_dir=str((root / "hosts" / address / name).resolve()),
                )
            )
    return SandboxState(cluster_name=cluster_name, zones=zones, servers_per_zone=per_zone, servers=servers)


def agent_client(server: SandboxServer, secrets: SandboxSecrets, **kwargs: Any) -> AgentClient:
    return AgentClient(server.address, server.agent_port, secrets.agent_key(server.address), **kwargs)


async def ensure_agent(root: Path, server: SandboxServer, secrets: SandboxSecrets) -> None:
    host_dir = server.host_dir(root)
    config = write_agent_files(server, host_dir, secrets.agent_key(server.address))
    if agent_process(server) is None:
        start_agent(server, config, host_dir / "agent.log")
    deadline = time.monotonic() + AGENT_READY_SECONDS
    async with agent_client(server, secrets, retries=0, timeout=2.0) as client:
        while True:
            try:
                await client.info()
                return
            except AgentError as exc:
                if agent_process(server) is None:
                    tail = (host_dir / "agent.log").read_text(errors="replace")[-1500:]
                    raise SandboxError(
                        f"the agent for {server.address} exited; its log ends with:\n{tail}"
                    ) from exc
                if time.monotonic() > deadline:
                    raise SandboxError(f"the agent for {server.address} did not answer: {exc}") from exc
            await asyncio.sleep(0.1)


async def start_observer(server: SandboxServer, secrets: SandboxSecrets) -> dict[str, Any]:
    async with agent_client(server, secrets, start_timeout=INIT_TIMEOUT_SECONDS) as client:
        # initialize=true only bootstraps a base dir without data; an initialised one is simply started.
        result = await client.start(
            server.observer_name,
            initialize=True,
            root_password=secrets.root_password,
            timeout_seconds=INIT_TIMEOUT_SECONDS,
        )
    observer: dict[str, Any] = result["observer"]
    observer["startMessage"] = result["message"]
    return observer


def ob_version(address: str, port: int, password: str) -> str | None:
    """`4.3.5.3` from seekdb's `OceanBase 4.3.5.3 seekdb (r1.4.0.0) …` version comment."""
    try:
        conn = pymysql.connect(
            host=address, port=port, user="root", password=password, connect_timeout=5, read_timeout=10
        )
    except pymysql.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@version_comment")
            row = cur.fetchone()
    finally:
        conn.close()
    match = re.search(r"OceanBase ([0-9][0-9.]*)", str(row[0]) if row else "")
    return match.group(1) if match else None


async def register(
    api: ObcpApi, state: SandboxState, secrets: SandboxSecrets, say: Callable[[str], None]
) -> bool:
    for server in state.servers:
        host = await api.register_host(
            server.address, server.address, server.agent_port, secrets.agent_key(server.address)
        )
        if server.host_id != int(host["id"]) and not host.get("_created", True):
            say(
                f"host {server.address} was already registered (id {host['id']}) before this sandbox: "
                "its agent port and key are updated to this sandbox's agent"
            )
        server.host_id = int(host["id"])
    zones: dict[str, list[dict[str, Any]]] = {}
    for server in state.servers:
        assert server.host_id is not None
        zones.setdefault(server.zone, []).append(
            {
                "hostId": server.host_id,
                "sqlPort": server.sql_port,
                "rpcPort": server.rpc_port,
                "observerName": server.observer_name,
            }
        )
    first = state.servers[0]
    version = await asyncio.to_thread(ob_version, first.address, first.sql_port, secrets.root_password)
    request = {
        "name": state.cluster_name,
        "rootPassword": secrets.root_password,
        "obVersion": version,
        "zones": [{"name": name, "servers": servers} for name, servers in zones.items()],
    }
    cluster, created = await api.take_over(request)
    state.cluster_id = int(cluster["id"])
    state.server_url = api.url
    return created


async def sandbox_up(
    root: Path,
    zones: int,
    per_zone: int,
    cluster_name: str,
    api_settings: ServerApiSettings | None,
    say: Callable[[str], None],
) -> UpResult:
    t0 = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any concurrency
    state = load_state(root)
    if state is None:
        state = plan(root, cluster_name, zones, per_zone)
    elif (state.zones, state.servers_per_zone, state.cluster_name) != (zones, per_zone, cluster_name):
        raise SandboxError(
            f"{root} already holds a sandbox of {state.zones} zone(s) x {state.servers_per_zone} server(s) "
            f"named {state.cluster_name!r}; use the same options, or `obcp sandbox down --purge` first"
        )
    secrets = load_secrets(root)
    for server in state.servers:
        secrets.agent_key(server.address)
    save_secrets(root, secrets)
    save_state(root, state)

    step = time.monotonic()
    try:
        await asyncio.gather(*(ensure_agent(root, s, secrets) for s in state.servers))
    finally:
        save_state(root, state)
    say(f"{len(state.servers)} agent(s) answering after {time.monotonic() - step:.1f} s")
    step = time.monotonic()
    outcomes = await asyncio.gather(
        *(start_observer(s, secrets) for s in state.servers), return_exceptions=True
    )
    failures = [str(o) for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise SandboxError("some observers did not start:\n  " + "\n  ".join(failures))
    observers = [o for o in outcomes if isinstance(o, dict)]
    bootstrapped = sum(" initialised and started " in o["startMessage"] for o in observers)
    say(
        f"{len(observers)} observer(s) ready after {time.monotonic() - step:.1f} s, side by side "
        f"({bootstrapped} bootstrapped now)"
    )

    created: bool | None = None
    if api_settings is not None:
        say(f"registering hosts and taking over cluster {state.cluster_name!r} at {api_settings.url}")
        api = ObcpApi(api_settings.url, api_settings.user, api_settings.password, api_settings.ca_file)
        try:
            created = await register(api, state, secrets, say)
        finally:
            await api.aclose()
            save_state(root, state)
    return UpResult(state, time.monotonic() - t0, observers, created)
