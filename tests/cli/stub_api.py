"""A scripted obcp API over real HTTP on a free loopback port: the CLI's own client talks to it unchanged,
so what a test sees is what a user of `obcp` would see from a server giving these answers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth: tuple[str, str] | None


@dataclass
class StubApi:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    # Replies of one route are served in order; the last one is repeated (a task polled until it ends).
    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)

    def ok(self, method: str, path: str, data: Any) -> None:
        self._add(method, path, 200, {"successful": True, "data": data})

    def error(self, method: str, path: str, status: int, code: int, message: str) -> None:
        self._add(method, path, status, {"successful": False, "error": {"code": code, "message": message}})

    def raw(self, method: str, path: str, status: int, text: str) -> None:
        self.routes.setdefault((method, path), []).append(Reply(status, text.encode()))

    def events(self, path: str, *data: Any) -> None:
        """A server-sent event stream of `task` events with these data, then its end."""
        text = "".join(f"event: task\ndata: {json.dumps(d)}\nid: {i}\n\n" for i, d in enumerate(data))
        self.routes.setdefault(("GET", path), []).append(Reply(200, text.encode(), "text/event-stream"))

    def _add(self, method: str, path: str, status: int, envelope: dict[str, Any]) -> None:
        self.routes.setdefault((method, path), []).append(Reply(status, json.dumps(envelope).encode()))

    def answer(self, call: Call) -> Reply:
        self.calls.append(call)
        replies = self.routes.get((call.method, call.path))
        if not replies:
            return Reply(404, b'{"successful": false, "error": {"code": 1, "message": "no such route"}}')
        return replies.pop(0) if len(replies) > 1 else replies[0]


def _auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _handler(api: StubApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(
                self.command,
                parts.path,
                parse_qs(parts.query),
                json.loads(raw) if raw else None,
                _auth(self.headers.get("Authorization")),
            )
            reply = api.answer(call)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def stub_api() -> Iterator[StubApi]:
    api = StubApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
