"""An observer that resets the connection during login (a restarting one does) is a connection error that
names the observer, never aiomysql's RuntimeError: under uvloop, the server's event loop, the reset often
lands between aiomysql's TCP connect and its socket options ("Transport does not expose socket instance"),
which failed the last step of a seed restart in CI.

The peer is a real loopback listener that accepts and resets (SO_LINGER 0) every connection.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter

import uvloop

from obcp.ob.connection import ObEndpoint, ObTimeouts, connect
from obcp.ob.errors import ObConnectError


class ResettingListener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by close()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


def test_a_reset_during_login_is_a_connection_error_naming_the_observer() -> None:
    listener = ResettingListener()
    endpoint = ObEndpoint("127.0.0.1", listener.port, "")
    errors: Counter[str] = Counter()

    async def attempts() -> None:
        for _ in range(150):
            try:
                await connect(endpoint, ObTimeouts(connect=2, read=2))
            except ObConnectError as exc:
                assert exc.address == endpoint.address
                errors[str(exc.errno)] += 1

    try:
        uvloop.run(attempts())
    finally:
        listener.close()
    assert sum(errors.values()) == 150, errors
