"""A real HTTP receiver on loopback for the notification tests: it records every request (path, headers,
body) and answers by path: `/ok` 200, `/fail` 500, `/hang` holds the request until released, `/first-hang`
holds only the first request it gets, then answers 200 at once. It checks nothing itself: the tests verify
the signatures independently of obcp's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["x-obcp-delivery-id"]


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        # Per holding path: set to let its held requests answer; how many are held now.
        self.release = {"/hang": threading.Event(), "/first-hang": threading.Event()}
        self.holding = {"/hang": 0, "/first-hang": 0}
        self._first_taken = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, count: int, seconds: float = 60) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.on(path)) < count:
            assert time.monotonic() < deadline, f"{path}: {len(self.on(path))} of {count} requests"
            time.sleep(0.05)
        return self.on(path)

    def wait_holding(self, path: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while self.holding[path] == 0:
            assert time.monotonic() < deadline, "no request is being held"
            time.sleep(0.05)

    def _hold(self, path: str) -> None:
        with self.lock:
            self.holding[path] += 1
        self.release[path].wait(HOLD_SECONDS)
        with self.lock:
            self.holding[path] -= 1

    def _answer(self, path: str) -> int:
        if path == "/fail":
            return 500
        if path == "/hang":
            self._hold(path)
        if path == "/first-hang":
            with self.lock:
                first, self._first_taken = not self._first_taken, True
            if first:
                self._hold(path)
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests.append(Received(self.path, headers, body))
                status = receiver._answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed, or it gave up waiting)

            def log_message(self, *_args: Any) -> None:
                return None

        return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        for event in receiver.release.values():
            event.set()
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(10)


def verify_signature(secret: str, received: Received) -> None:
    """The signature header checked as a receiver would, with nothing of obcp's code: t=…,v1=HMAC-SHA256 of
    "<t>.<body>"."""
    parts = dict(p.split("=", 1) for p in received.headers["x-obcp-signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), received.headers["x-obcp-signature"]
    assert abs(int(parts["t"]) - time.time()) < 300, parts["t"]
