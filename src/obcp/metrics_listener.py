"""A second listener that serves only GET /metrics, without authentication, for a Prometheus on a private
network (`--metrics-listen ADDRESS:PORT`). It is never opened by accident on a public address: anything but
a loopback address is refused unless `--metrics-listen-public` says the network is private. Used by the
server and by the agent; it runs in the process's own event loop beside the main API."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import Receive, Scope, Send

# The classic text format, which every Prometheus 2.x reads (prometheus_client's newest is 1.0.0).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
Render = Callable[[], Awaitable[bytes]]


def parse_address(listen: str, option: str = "--metrics-listen") -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{option} must be ADDRESS:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve to anything


def checked_address(listen: str, public: bool, option: str = "--metrics-listen") -> tuple[str, int]:
    host, port = parse_address(listen, option)
    if not public and not is_loopback(host):
        raise ValueError(
            f"{option} {listen}: serves the metrics without authentication, so it listens on a loopback "
            f"address only; add {option}-public if {host} is on a private network"
        )
    return host, port


def metrics_app(render: Render) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics" or scope["method"] not in ("GET", "HEAD"):
            status, body, kind = 404, b"only GET /metrics is served here\n", b"text/plain"
        else:
            status, body, kind = 200, await render(), CONTENT_TYPE.encode()
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})

    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process's main server owns the signals; this one is stopped by it.
        yield


class MetricsListener:
    def __init__(self, listen: str, public: bool, render: Render) -> None:
        self.host, self.port = checked_address(listen, public)
        self._render = render
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Binds now, so a taken port stops the start with its reason rather than later in a log."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ValueError(
                f"--metrics-listen {self.host}:{self.port}: cannot listen ({exc.strerror})"
            ) from exc
        config = uvicorn.Config(
            metrics_app(self._render), lifespan="off", access_log=False, log_config=None, server_header=False
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="obcp-metrics-listener")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None
