"""Agents of a sandbox: their config files, starting them detached, and stopping them by pid."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from obcp.agent.ports import free_port
from obcp.agent.process_record import live_process
from obcp.sandbox.state import SandboxServer, write_private

DEFAULT_AGENT_PORT = 2886


def can_listen(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def pick_agent_port(address: str) -> int:
    if can_listen(address, DEFAULT_AGENT_PORT):
        return DEFAULT_AGENT_PORT
    return free_port(address)


def write_agent_files(server: SandboxServer, host_dir: Path, key: str) -> Path:
    host_dir.mkdir(parents=True, exist_ok=True)
    write_private(host_dir / "agent.key", key + "\n")
    config = host_dir / "agent.toml"
    config.write_text(
        "# Written by `obcp sandbox up`.\n"
        f'listen = "{server.address}:{server.agent_port}"\n'
        'key_file = "agent.key"\n\n'
        "[[observers]]\n"
        f'name = "{server.observer_name}"\n'
        'kind = "seekdb"\n'
        f'base_dir = "{server.base_dir}"\n'
        f"sql_port = {server.sql_port}\n"
        'log_level = "WARN"\n'
    )
    return config


def agent_process(server: SandboxServer) -> psutil.Process | None:
    """The recorded agent, if that very process (pid and start time) still runs."""
    if server.agent_pid is None or server.agent_create_time is None:
        return None
    return live_process(server.agent_pid, server.agent_create_time)


def start_agent(server: SandboxServer, config: Path, log_file: Path) -> None:
    env = dict(os.environ)
    # The key is the one in the key file; an inherited OBCP_AGENT_KEY would silently replace it.
    env.pop("OBCP_AGENT_KEY", None)
    env.pop("OBCP_AGENT_CONFIG", None)
    with log_file.open("ab") as out:
        # Detached: its own session, so it outlives the `obcp sandbox up` that started it.
        proc = subprocess.Popen(
            [sys.executable, "-m", "obcp.cli.agent", "--config", str(config), "--log-level", "info"],
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    server.agent_pid = proc.pid
    server.agent_create_time = psutil.Process(proc.pid).create_time()


def stop_agent(server: SandboxServer, grace: float = 10.0) -> bool:
    """SIGTERM the recorded agent, SIGKILL after the grace; True if one was running."""
    proc = agent_process(server)
    server.agent_pid = server.agent_create_time = None
    if proc is None:
        return False
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.terminate()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    # No wait for the pid to vanish: a zombie is gone, and PID 1 may take over a second to reap it.
    return True
