"""ASGI middleware that lets only requests signed with the host's agent key reach the agent's routes.

It runs before routing, so an unsigned caller learns nothing, not even which paths exist. A signed request's
`X-OCP-Trace-ID` (part of what is signed) becomes the traceId of the agent's log lines while it is served.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obcp.agent.signing import RequestVerifier
from obcp.tracing import TRACE_HEADER, trace_id_var, valid_trace_id

log = logging.getLogger("obcp.agent")

MAX_BODY_BYTES = 64 * 1024


async def send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, sort_keys=True).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SignatureMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        verifier: RequestVerifier,
        host_label: str,
        on_refusal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.host_label = host_label
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await send_json(send, 413, self._error("body_too_large", f"bodies over {MAX_BODY_BYTES} B"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        path_with_query = raw_path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rejection = self.verifier.verify(scope["method"], path_with_query, headers, body)
        if rejection is not None:
            self.on_refusal(rejection.code)
            client = scope.get("client")
            log.warning(
                "rejected %s %s from %s: %s",
                scope["method"],
                scope["path"],
                client[0] if client else "?",
                rejection.code,
            )
            await send_json(send, 401, self._error(rejection.code, rejection.message))
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        token = trace_id_var.set(valid_trace_id(headers.get(TRACE_HEADER.lower())))
        try:
            await self.app(scope, replay, send)
        finally:
            trace_id_var.reset(token)

    def _error(self, code: str, message: str) -> dict[str, Any]:
        return {
            "error": {
                "code": code,
                "host": self.host_label,
                "message": message,
                "summary": f"agent {self.host_label}: {message}",
            }
        }
