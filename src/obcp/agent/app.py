"""The agent's HTTP API (FastAPI): host info and, per configured observer, status, start, stop, log tail.

Every route acts on an observer named in the config; no route takes a command, a binary or a path.
Errors are `{"error": {"code", "message", "observer", "host", "command", "summary"}}`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from obcp import __version__
from obcp.agent.config import AgentConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.metrics import AgentMetrics
from obcp.agent.observer_process import ObserverProcess
from obcp.agent.process_record import OperationResult
from obcp.agent.signature_middleware import SignatureMiddleware
from obcp.agent.signing import RequestVerifier
from obcp.metrics_listener import CONTENT_TYPE

log = logging.getLogger("obcp.agent")

MAX_LOG_LINES = 2000


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    initialize: bool = False
    # Set on the first start only (ALTER USER root); also used to probe readiness with SELECT 1.
    root_password: SecretStr | None = Field(default=None, alias="rootPassword")
    timeout_seconds: float | None = Field(default=None, alias="timeoutSeconds", gt=0, le=3600)


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grace_seconds: float | None = Field(default=None, alias="graceSeconds", gt=0, le=600)


def error_response(
    status: int, code: str, message: str, host: str, observer: str | None = None, command: str | None = None
) -> JSONResponse:
    what = f"{command} observer {observer}: " if command and observer else ""
    body: dict[str, Any] = {"code": code, "host": host, "message": message}
    if observer:
        body["observer"] = observer
    if command:
        body["command"] = command
    body["summary"] = f"agent {host}: {what}{message}"
    return JSONResponse({"error": body}, status_code=status)


class ConfiguredObservers:
    """The observers of the config by name, and the two ways a route reaches one: a lookup that answers 404
    for an unknown name, and an operation whose failure becomes the agent's error body."""

    def __init__(self, config: AgentConfig, host_label: str) -> None:
        self.by_name = {o.name: ObserverProcess(o, host_label) for o in config.observers}
        self.host_label = host_label
        self.metrics = AgentMetrics(self.running)

    def running(self) -> dict[str, bool]:
        return {name: o.running_process() is not None for name, o in self.by_name.items()}

    def lookup(self, name: str, command: str) -> ObserverProcess | JSONResponse:
        observer = self.by_name.get(name)
        if observer is None:
            return error_response(
                404,
                "unknown_observer",
                f"no observer named {name!r} is configured on this agent "
                f"(configured: {', '.join(sorted(self.by_name)) or 'none'})",
                self.host_label,
                name,
                command,
            )
        return observer

    def operate(self, name: str, command: str, action: Callable[[ObserverProcess], OperationResult]) -> Any:
        observer = self.lookup(name, command)
        if isinstance(observer, JSONResponse):
            return observer
        started = time.monotonic()
        try:
            result = action(observer)
        except ObserverOperationError as exc:
            self.metrics.operated(name, command, False, time.monotonic() - started)
            log.warning("%s observer %s failed: %s", command, name, exc.message)
            return error_response(exc.http_status, exc.code, exc.message, self.host_label, name, command)
        self.metrics.operated(name, command, True, time.monotonic() - started)
        log.info("%s observer %s: %s", command, name, result.message)
        return {
            "changed": result.changed,
            "elapsedSeconds": round(result.elapsed_seconds, 3),
            "message": result.message,
            "observer": observer.status(),
        }


def create_agent_app(config: AgentConfig, key: bytes, host_label: str) -> FastAPI:
    observers = ConfiguredObservers(config, host_label)
    app = FastAPI(title="obcp agent", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SignatureMiddleware,
        verifier=RequestVerifier(key),
        host_label=host_label,
        on_refusal=observers.metrics.refused,
    )
    app.state.observers = observers.by_name
    app.state.metrics = observers.metrics

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input: a start body may carry the root password.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        )
        return error_response(400, "bad_request", f"invalid request: {problems}", host_label)

    add_info_routes(app, observers, time.time())
    add_observer_routes(app, observers)
    return app


def add_info_routes(app: FastAPI, observers: ConfiguredObservers, started_at: float) -> None:
    @app.get("/v1/info")
    def info() -> dict[str, Any]:
        return {
            "hostname": socket.gethostname(),
            "host": observers.host_label,
            "version": __version__,
            "pid": os.getpid(),
            "startedAt": datetime.fromtimestamp(started_at, UTC).isoformat(timespec="milliseconds"),
            "uptimeSeconds": round(time.time() - started_at, 3),
            "observers": sorted(observers.by_name),
        }

    @app.get("/v1/observers")
    def list_observers() -> dict[str, Any]:
        return {"observers": [observers.by_name[n].status() for n in sorted(observers.by_name)]}

    @app.get("/metrics")
    def metrics() -> Response:
        # Signed like every route here; `metrics_listen` in the config serves it unsigned for Prometheus.
        return Response(observers.metrics.render(), media_type=CONTENT_TYPE)


def add_observer_routes(app: FastAPI, observers: ConfiguredObservers) -> None:
    @app.get("/v1/observers/{name}")
    def observer_status(name: str, ports: bool = Query(default=True)) -> Any:
        # ports=false: no `listeningPorts`, the costly part of a status (what the operation steps ask).
        observer = observers.lookup(name, "status")
        return observer if isinstance(observer, JSONResponse) else observer.status(ports)

    @app.post("/v1/observers/{name}/start")
    def start_observer(name: str, body: StartRequest | None = None) -> Any:
        request = body or StartRequest()
        password = request.root_password.get_secret_value() if request.root_password else None
        log.info("start observer %s requested (initialize=%s)", name, request.initialize)
        return observers.operate(
            name, "start", lambda o: o.start(request.initialize, password, request.timeout_seconds)
        )

    @app.post("/v1/observers/{name}/stop")
    def stop_observer(name: str, body: StopRequest | None = None) -> Any:
        request = body or StopRequest()
        log.info("stop observer %s requested", name)
        return observers.operate(name, "stop", lambda o: o.stop(request.grace_seconds))

    @app.get("/v1/observers/{name}/log")
    def observer_log(name: str, lines: int = Query(default=200, ge=1, le=MAX_LOG_LINES)) -> Any:
        observer = observers.lookup(name, "log")
        if isinstance(observer, JSONResponse):
            return observer
        return {"name": name, "file": observer.log_file_name, "lines": observer.log_tail(lines)}


def adopt_running_observers(app: FastAPI) -> None:
    """Find observers that already run (started before this agent, or by a previous one)."""
    observers: dict[str, ObserverProcess] = app.state.observers
    for observer in observers.values():
        proc = observer.running_process()
        if proc is not None:
            log.info("observer %s is running as pid %d", observer.name, proc.pid)
