"""Does an observer's SQL port answer, and setting root's password after the first start."""

from __future__ import annotations

import socket

import pymysql

# A foreign listener may accept and never speak; without a read timeout a probe would wait forever.
PROBE_TIMEOUT = 2.0


def answers_handshake(port: int, host: str = "127.0.0.1", timeout: float = PROBE_TIMEOUT) -> bool:
    """True if the port sends a MySQL protocol-10 greeting. Needs no password and logs no failed login."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            header = _recv_exactly(sock, 4)
            length = int.from_bytes(header[:3], "little")
            if length < 1:
                return False
            payload = _recv_exactly(sock, min(length, 1))
            return payload[0] == 10
    except OSError:
        return False


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed before the greeting was complete")
        data += chunk
    return data


def select_1_problem(port: int, password: str, host: str = "127.0.0.1") -> str | None:
    """None if root can log in and run SELECT 1; otherwise the server's error (never the password)."""
    try:
        conn = pymysql.connect(
            host=host,
            port=port,
            user="root",
            password=password,
            connect_timeout=PROBE_TIMEOUT,
            read_timeout=PROBE_TIMEOUT,
            write_timeout=PROBE_TIMEOUT,
        )
    except pymysql.MySQLError as exc:
        return mysql_error_text(exc)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            row = cur.fetchone()
            return None if row == (1,) else f"unexpected answer {row!r}"
    except pymysql.MySQLError as exc:
        return mysql_error_text(exc)
    finally:
        conn.close()


def mysql_error_text(exc: BaseException) -> str:
    # pymysql errors are (code, text); neither holds the password that was sent.
    args: tuple[object, ...] = getattr(exc, "args", ())
    return f"({args[0]}) {args[1]}" if len(args) > 1 else f"{type(exc).__name__}: {exc}"


def set_root_password(port: int, password: str, host: str = "127.0.0.1") -> None:
    """Right after bootstrap root has no password; raises pymysql.MySQLError on failure."""
    conn = pymysql.connect(
        host=host,
        port=port,
        user="root",
        password="",
        connect_timeout=PROBE_TIMEOUT,
        read_timeout=10.0,
        write_timeout=10.0,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER USER root IDENTIFIED BY %s", (password,))
    finally:
        conn.close()
