"""Is a TCP port free, and if not, which process holds it; a port the kernel says is free now."""

from __future__ import annotations

import errno
import socket

import psutil


def port_is_free(port: int) -> bool:
    """True if a server could listen on 0.0.0.0:port (seekdb has no bind-address option)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: TIME_WAIT leftovers of a stopped observer must not count as "held".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port(address: str = "127.0.0.1") -> int:
    """A port nobody listens on at `address` now (seekdb binds 0.0.0.0: check SQL ports there)."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def port_holder(port: int) -> str:
    """'pid 1234 (nginx)' for the process listening on the port, or a plain 'another process'."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "another process (not visible to the agent's user)"
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            if conn.pid is None:
                return "another process (not visible to the agent's user)"
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "another socket (no listener visible to the agent's user)"


def listening_ports(process: psutil.Process) -> list[int]:
    try:
        connections = process.net_connections(kind="inet")
    except psutil.Error:
        return []
    return sorted({c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN and c.laddr})
