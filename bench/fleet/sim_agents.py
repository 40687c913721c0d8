"""SIMULATED host agents for the fleet benchmark: one process, one listening socket per host.

The routes and answers are those of obcp's agent (src/obcp/agent/app.py: info, observers, status, start,
stop, log, with its error body), and every call must pass the real agent's signature check
(`SignatureMiddleware` with the host's own key): only the observer behind them is a simulation
(sim_observers.py). A host listed as hung accepts the connection and never answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from datetime import UTC, datetime

from sim_observers import OBSERVER_NAME, Fleet, SimulatedObserver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from obcp import __version__
from obcp.agent.app import error_response
from obcp.agent.signature_middleware import SignatureMiddleware
from obcp.agent.signing import RequestVerifier


def _host(request: Request) -> str:
    server = request.scope.get("server")
    return str(server[0]) if server else "?"


def agent_routes(fleet: Fleet, port: int) -> ASGIApp:
    started_at = time.time()
    forever = asyncio.Event()

    def label(request: Request) -> str:
        return f"{_host(request)}:{port}"

    async def observer(request: Request, command: str) -> SimulatedObserver | Response:
        host = _host(request)
        if host in fleet.hung:
            await forever.wait()  # a hung agent: the caller's timeout decides
        name = request.path_params.get("name", OBSERVER_NAME)
        if name != OBSERVER_NAME:
            return error_response(
                404, "unknown_observer",
                f"no observer named {name!r} is configured on this agent (configured: {OBSERVER_NAME})",
                label(request), name, command,
            )  # fmt: skip
        return fleet.observers[host]

    async def info(request: Request) -> Response:
        found = await observer(request, "info")
        if isinstance(found, Response):
            return found
        return JSONResponse(
            {
                "hostname": socket.gethostname(),
                "host": label(request),
                "version": f"{__version__} (simulation)",
                "pid": os.getpid(),
                "startedAt": datetime.fromtimestamp(started_at, UTC).isoformat(timespec="milliseconds"),
                "uptimeSeconds": round(time.time() - started_at, 3),
                "observers": [OBSERVER_NAME],
            }
        )

    async def list_observers(request: Request) -> Response:
        found = await observer(request, "list")
        return found if isinstance(found, Response) else JSONResponse({"observers": [found.status()]})

    async def status(request: Request) -> Response:
        found = await observer(request, "status")
        return found if isinstance(found, Response) else JSONResponse(found.status())

    async def operate(request: Request, command: str) -> Response:
        await request.body()
        found = await observer(request, command)
        if isinstance(found, Response):
            return found
        if command == "stop":
            changed, seconds, message = await found.stop()
        else:
            changed, seconds, failure = await found.start()
            if failure is not None:
                return error_response(500, "start_failed", failure, label(request), OBSERVER_NAME, command)
            message = (
                f"observer {OBSERVER_NAME} {'started' if changed else 'is already running'} (simulation)"
            )
        return JSONResponse(
            {
                "changed": changed,
                "elapsedSeconds": round(seconds, 3),
                "message": message,
                "observer": found.status(),
            }
        )

    async def start(request: Request) -> Response:
        return await operate(request, "start")

    async def stop(request: Request) -> Response:
        return await operate(request, "stop")

    async def log_tail(request: Request) -> Response:
        found = await observer(request, "log")
        if isinstance(found, Response):
            return found
        lines = [f"simulated observer {found.address}: {len(found.restarts)} restart(s), state {found.state}"]
        return JSONResponse({"name": OBSERVER_NAME, "file": "simulation", "lines": lines})

    return Starlette(
        routes=[
            Route("/v1/info", info),
            Route("/v1/observers", list_observers),
            Route("/v1/observers/{name}", status),
            Route("/v1/observers/{name}/start", start, methods=["POST"]),
            Route("/v1/observers/{name}/stop", stop, methods=["POST"]),
            Route("/v1/observers/{name}/log", log_tail),
        ]
    )


class PerHostSignatures:
    """Routes each request to its host's `SignatureMiddleware` (its own key), by the socket it came in on."""

    def __init__(self, inner: ASGIApp, keys: dict[str, str], port: int) -> None:
        self._by_host = {
            host: SignatureMiddleware(
                inner, verifier=RequestVerifier(key.encode()), host_label=f"{host}:{port}"
            )
            for host, key in keys.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        server = scope.get("server")
        app = self._by_host.get(str(server[0])) if server else None
        if app is None:
            body = json.dumps(
                {"error": {"code": "unknown_host", "message": "no simulated host here"}}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)


def listening_sockets(hosts: list[str], port: int) -> list[socket.socket]:
    sockets = []
    for host in hosts:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets
