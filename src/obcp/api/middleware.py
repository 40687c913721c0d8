"""ASGI middlewares: the request's trace id and start time, and the 1 MiB body limit."""

from __future__ import annotations

import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obcp.api.envelope import error_response, new_trace_id, start_var
from obcp.errors import ErrorCode
from obcp.tracing import trace_id_var

MAX_BODY_BYTES = 1024 * 1024
_TRACE_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


class TraceMiddleware:
    """Reuses an incoming `x-trace-id` (as OCP does) or makes a 16-hex one, and echoes it in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = ""
        for name, value in scope.get("headers", []):
            if name == b"x-trace-id":
                candidate = value.decode("latin-1")
                trace_id = candidate if _TRACE_ID.match(candidate) else ""
                break
        trace_id = trace_id or new_trace_id()
        trace_token = trace_id_var.set(trace_id)
        start_token = start_var.set(time.monotonic())

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"x-trace-id" for name, _ in headers):
                    headers.append((b"x-trace-id", trace_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_trace)
        # Reset on success only: after an unhandled exception, Starlette's ServerErrorMiddleware (outside this
        # one) renders the 500 envelope, which must still carry this request's trace id and duration.
        trace_id_var.reset(trace_token)
        start_var.reset(start_token)


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, which FastAPI's body reader re-raises (not a 400)."""

    def __init__(self) -> None:
        super().__init__(413, "the body is too large")


class BodyLimitMiddleware:
    """Refuses bodies over 1 MiB with an OCP 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = ErrorCode.PAYLOAD_TOO_LARGE
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    response = error_response(code.http_status, code.code, code.format(self.limit))
                    await response(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                response = error_response(code.http_status, code.code, code.format(self.limit))
                await response(scope, receive, send)
