"""`obcp sandbox status` and `obcp sandbox down [--purge]`."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from obcp.agent.client import AgentError
from obcp.agent.config import ObserverConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_process import ObserverProcess
from obcp.sandbox.agent_processes import agent_process, stop_agent
from obcp.sandbox.state import (
    HOSTS_DIR,
    SECRETS_FILE,
    STATE_FILE,
    SandboxServer,
    load_secrets,
    load_state,
    save_state,
)
from obcp.sandbox.up import SandboxError, agent_client


def _local_observer(server: SandboxServer) -> ObserverProcess:
    config = ObserverConfig(
        name=server.observer_name, base_dir=Path(server.base_dir), sql_port=server.sql_port
    )
    return ObserverProcess(config, f"{server.address}:{server.agent_port}")


async def server_status(root: Path, server: SandboxServer) -> dict[str, Any]:
    row: dict[str, Any] = {
        "zone": server.zone,
        "observer": server.observer_name,
        "address": server.address,
        "agentPort": server.agent_port,
        "sqlPort": server.sql_port,
        "hostId": server.host_id,
        "baseDir": server.base_dir,
        "agentPid": None,
        "agentRunning": False,
    }
    proc = agent_process(server)
    if proc is not None:
        row.update(agentPid=proc.pid, agentRunning=True)
        try:
            async with agent_client(server, load_secrets(root), retries=0, timeout=5.0) as client:
                status = await client.status(server.observer_name)
        except AgentError as exc:
            row["problem"] = str(exc)
            status = _local_observer(server).status()
    else:
        # Without its agent the observer may still run; look at it directly.
        status = _local_observer(server).status()
    row.update(
        observerRunning=status.get("running", False),
        observerPid=status.get("pid"),
        rssBytes=status.get("rssBytes"),
        initialised=status.get("initialised"),
    )
    return row


async def sandbox_status(root: Path) -> dict[str, Any]:
    state = load_state(root)
    if state is None:
        raise SandboxError(f"no sandbox in {root}")
    rows = await asyncio.gather(*(server_status(root, s) for s in state.servers))
    return {
        "dir": str(root),
        "clusterName": state.cluster_name,
        "clusterId": state.cluster_id,
        "serverUrl": state.server_url,
        "servers": list(rows),
    }


async def stop_server(root: Path, server: SandboxServer, say: Callable[[str], None]) -> None:
    if agent_process(server) is not None:
        try:
            async with agent_client(server, load_secrets(root), retries=1) as client:
                result = await client.stop(server.observer_name)
            say(result["message"])
        except AgentError as exc:
            say(f"{exc}; stopping the observer directly")
            await asyncio.to_thread(_stop_directly, server, say)
    else:
        await asyncio.to_thread(_stop_directly, server, say)
    if await asyncio.to_thread(stop_agent, server):
        say(f"agent on {server.address}:{server.agent_port} stopped")


def _stop_directly(server: SandboxServer, say: Callable[[str], None]) -> None:
    try:
        say(_local_observer(server).stop().message)
    except ObserverOperationError as exc:
        say(f"observer {server.observer_name}: {exc.message}")


async def sandbox_down(root: Path, purge: bool, say: Callable[[str], None]) -> None:
    state = load_state(root)
    if state is None:
        if purge and (root / HOSTS_DIR).exists():
            raise SandboxError(f"{root} has no {STATE_FILE}; not deleting anything without it")
        say(f"no sandbox in {root}")
        return
    try:
        await asyncio.gather(*(stop_server(root, s, say) for s in state.servers))
    finally:
        save_state(root, state)
    still = [s.observer_name for s in state.servers if _local_observer(s).running_process() is not None]
    if still:
        raise SandboxError(f"observers still running, nothing purged: {', '.join(still)}")
    if purge:
        await asyncio.to_thread(_purge, root)
        say(f"sandbox data in {root} deleted")


def _purge(root: Path) -> None:
    # Only what `up` created; --dir may hold other files of the user.
    shutil.rmtree(root / HOSTS_DIR, ignore_errors=True)
    for name in (STATE_FILE, SECRETS_FILE):
        (root / name).unlink(missing_ok=True)
    if root.exists() and not any(root.iterdir()):
        root.rmdir()
