"""The server's side of the agent protocol: an async, signing client for one host's agent.

Retries: every agent operation is idempotent by design (starting a running observer and stopping a
stopped one are successes, a first initialisation is only done when no data exists), so each method is
marked idempotent and is retried on transport failures — connection refused/reset and timeouts — with a
fresh timestamp and nonce (a start or stop, whose wait is long, is not retried after a timeout). Every
call is bounded (its timeout per attempt, a few attempts), and its failure says how long it waited. An
answer from the agent, success or error, is never retried. A method that is not idempotent (none exists
yet) would only be retried when the request provably never left.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from obcp.agent.signing import signature_headers
from obcp.netpolicy import DestinationRefused, check_destination
from obcp.tracing import trace_id_var, valid_trace_id

# (host, action, outcome, seconds) of each call: the server's metrics; outcome is "ok", "error" (the agent
# answered with an error) or "unreachable" (no answer, after the retries).
CallObserver = Callable[[str, str, str, float], None]


class AgentError(Exception):
    """What went wrong talking to an agent: `agent 127.0.0.2:2886: start observer ob1: <agent's words>`."""

    def __init__(
        self,
        host: str,
        command: str,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        observer: str | None = None,
        lost: bool = False,
    ) -> None:
        self.host = host
        self.command = command
        self.message = message
        self.status_code = status_code
        self.code = code
        self.observer = observer
        # The connection dropped after the request was sent: the agent may have acted on it (it died, or
        # restarted, in the middle of the call). Only a new answer from it tells the outcome.
        self.lost = lost
        super().__init__(f"agent {host}: {command}: {message}")


class AgentSignatureAuth(httpx.Auth):
    """Signs each request as it is sent, so a retried request carries a new timestamp and nonce."""

    requires_request_body = True

    def __init__(self, key: bytes) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path_with_query = request.url.raw_path.decode("ascii")
        trace_id = valid_trace_id(trace_id_var.get())
        request.headers.update(
            signature_headers(self._key, request.method, path_with_query, request.content, trace_id)
        )
        yield request


class AgentClient:
    def __init__(
        self,
        address: str,
        port: int,
        key: str | bytes,
        *,
        timeout: float = 10.0,
        start_timeout: float = 180.0,
        retries: int = 2,
        retry_delay: float = 0.5,
        tls: ssl.SSLContext | None = None,
        observe: CallObserver | None = None,
    ) -> None:
        self.host = f"{address}:{port}"
        self._address = address
        self._observe = observe
        self._start_timeout = start_timeout
        self._timeout = timeout
        self._retries = retries
        self._retry_delay = retry_delay
        scheme = "https" if tls is not None else "http"
        self._http = httpx.AsyncClient(
            base_url=f"{scheme}://{address}:{port}",
            auth=AgentSignatureAuth(key.encode() if isinstance(key, str) else key),
            timeout=timeout,
            verify=tls if tls is not None else _unused_tls_context(),
            trust_env=False,  # a proxy from the environment must never see agent traffic
        )

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- operations --------------------------------------------------------------------------------------

    async def info(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/info", "info", idempotent=True)

    async def list_observers(self) -> list[dict[str, Any]]:
        result = await self._call("GET", "/v1/observers", "list observers", idempotent=True)
        observers: list[dict[str, Any]] = result["observers"]
        return observers

    async def status(self, observer: str, *, ports: bool = True) -> dict[str, Any]:
        """`ports=False`: without `listeningPorts` (a psutil socket listing, most of the call's cost).
        The query is part of the signed path (`AgentSignatureAuth` signs `raw_path`, query included)."""
        path = f"/v1/observers/{observer}" + ("" if ports else "?ports=false")
        return await self._call("GET", path, f"status observer {observer}", True)

    async def start(
        self,
        observer: str,
        *,
        initialize: bool = False,
        root_password: str | None = None,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"initialize": initialize}
        if root_password is not None:
            body["rootPassword"] = root_password
        if timeout_seconds is not None:
            body["timeoutSeconds"] = timeout_seconds
        wait = (timeout_seconds or self._start_timeout) + 15
        return await self._call(
            "POST", f"/v1/observers/{observer}/start", f"start observer {observer}", True, body, wait
        )

    async def stop(self, observer: str, *, grace_seconds: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {} if grace_seconds is None else {"graceSeconds": grace_seconds}
        wait = (grace_seconds or 10.0) + 40
        return await self._call(
            "POST", f"/v1/observers/{observer}/stop", f"stop observer {observer}", True, body, wait
        )

    async def log_tail(self, observer: str, lines: int = 200) -> list[str]:
        result = await self._call(
            "GET", f"/v1/observers/{observer}/log?lines={lines}", f"log observer {observer}", True
        )
        tail: list[str] = result["lines"]
        return tail

    # -- transport ---------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        command: str,
        idempotent: bool,
        body: dict[str, Any] | None = None,
        wait_seconds: float | None = None,
    ) -> dict[str, Any]:
        try:
            check_destination(self._address, "agent")
        except DestinationRefused as exc:
            raise AgentError(self.host, command, str(exc)) from exc
        started = time.monotonic()
        outcome = "unreachable"
        try:
            result = await self._send(method, path, command, idempotent, body, wait_seconds)
            outcome = "ok"
            return result
        except AgentError as exc:
            outcome = "unreachable" if exc.status_code is None else "error"
            raise
        finally:
            if self._observe is not None:
                # The action without the observer's name: a label takes few values.
                action = command.split(" observer")[0].replace(" ", "_")
                self._observe(self.host, action, outcome, time.monotonic() - started)

    async def _send(
        self,
        method: str,
        path: str,
        command: str,
        idempotent: bool,
        body: dict[str, Any] | None,
        wait_seconds: float | None,
    ) -> dict[str, Any]:
        started = time.monotonic()
        timeout = wait_seconds if wait_seconds is not None else self._timeout
        attempt = 0
        lost = False
        while True:
            try:
                response = await self._http.request(method, path, json=body, timeout=timeout)
                break
            except httpx.TransportError as exc:
                lost = lost or isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
                if attempt < self._retries and _retryable(
                    exc, idempotent, long_call=wait_seconds is not None
                ):
                    attempt += 1
                    await asyncio.sleep(self._retry_delay * attempt)
                    continue
                waited = time.monotonic() - started
                text = _transport_text(exc, timeout)
                if lost and not isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
                    text = f"the connection dropped before the answer, then {text}"
                raise AgentError(
                    self.host,
                    command,
                    f"{text}; gave up after {attempt + 1} attempt(s) in {waited:.1f} s",
                    lost=lost,
                ) from exc
        return self._decode(response, command)

    def _decode(self, response: httpx.Response, command: str) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            raise AgentError(
                self.host,
                command,
                str(error.get("message", "")),
                status_code=response.status_code,
                code=error.get("code"),
                observer=error.get("observer"),
            )
        raise AgentError(
            self.host,
            command,
            f"unexpected HTTP {response.status_code} answer: {response.text[:200]!r}",
            status_code=response.status_code,
        )


def _retryable(exc: httpx.TransportError, idempotent: bool, long_call: bool) -> bool:
    """A refused connection never reached the agent: always tried again. Anything else may have reached
    it: tried again only for an idempotent call, and a long call (start, stop) not after a timeout, since
    an agent that kept it unanswered for its whole wait hangs, and a second wait as long would only delay
    the step's failure."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    if long_call and isinstance(exc, httpx.TimeoutException):
        return False
    return idempotent


@functools.cache
def _unused_tls_context() -> ssl.SSLContext:
    """Plain-HTTP clients never use TLS, yet httpx builds a context per client unless given one: loading
    the CA bundle costs ~10-40 ms of CPU, which a server talking to thousands of hosts pays thousands of
    times (measured by bench/fleet). One shared context instead."""
    return ssl.create_default_context()


def _transport_text(exc: httpx.TransportError, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect within {timeout:g} s (ConnectTimeout); is the host reachable?"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc}); is the agent running?"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s ({type(exc).__name__}): the host or its agent hangs"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"the connection dropped before the answer ({type(exc).__name__}: {exc}); did the agent stop?"
    return f"{type(exc).__name__}: {exc}"
