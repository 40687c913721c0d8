"""The loop every server replica runs: find due deliveries, claim one attempt each (a guarded UPDATE, so no
two replicas send the same attempt at once), send it as a signed HTTP POST bounded by a timeout, and record
the attempt. Sends run as their own asyncio tasks, at most `concurrency` at once: a receiver that hangs
holds one slot until its timeout and delays nothing else, least of all the engine, which only ever wrote a
row in its own transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from urllib.parse import urlsplit

import httpx

from obcp import __version__
from obcp.meta.db import Database, now_ms
from obcp.netpolicy import DestinationRefused, check_destination
from obcp.notify import channels, deliveries
from obcp.notify.deliveries import Attempt, Claimed
from obcp.notify.settings import NotifySettings
from obcp.notify.signing import HEADER, signature
from obcp.secretbox import SecretBox

log = logging.getLogger("obcp.notify")
# Set while a webhook is sent: httpx's own INFO line would log the channel's URL, which may carry a token.
_SENDING: ContextVar[bool] = ContextVar("obcp_notify_sending", default=False)


class _QuietWebhooks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _SENDING.get()


_QUIET = _QuietWebhooks()

# (outcome of an attempt: ok, http_error, timeout, error; its seconds) and (a delivery's final status).
AttemptObserver = Callable[[str, float], None]
FinalObserver = Callable[[str], None]


class DeliverySender:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        owner: str,
        settings: NotifySettings | None = None,
        *,
        on_attempt: AttemptObserver | None = None,
        on_final: FinalObserver | None = None,
    ) -> None:
        self.db = db
        self.box = box
        self.owner = owner
        self.settings = settings or NotifySettings()
        self.on_attempt = on_attempt
        self.on_final = on_final
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(trust_env=False, follow_redirects=False)

    async def start(self) -> None:
        httpx_log = logging.getLogger("httpx")
        if _QUIET not in httpx_log.filters:
            httpx_log.addFilter(_QUIET)
        released = await deliveries.release(self.db, self.owner)
        if released:
            log.info(
                "notifications: %d attempt(s) of this replica's previous process are due again", released
            )
        self._loop = asyncio.create_task(self._run(), name="obcp-notify-sender")

    def kick(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop looking, cancel attempts in flight, and give their deliveries back for any replica."""
        tasks = [t for t in (self._loop, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await deliveries.release(self.db, self.owner)
        await self._http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the metadb away: try again at the next poll
                log.warning("notifications: looking for due deliveries failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim what is due, as far as there is room, and start sending it; returns how many started."""
        room = self.settings.concurrency - len(self._inflight)
        if room <= 0:
            return 0
        started = 0
        for delivery_id in await deliveries.due(self.db, room, skip=self._inflight.keys()):
            claimed = await deliveries.claim(self.db, delivery_id, self.owner, self.settings.lease_ms)
            if claimed is None:
                continue  # another replica's, or no longer due
            task = asyncio.create_task(self._attempt(claimed), name=f"obcp-notify-{claimed.id}")
            self._inflight[claimed.id] = task
            task.add_done_callback(partial(self._done, claimed.id))
            started += 1
        return started

    def _done(self, delivery_id: int, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(delivery_id, None)
        self._wake.set()  # a slot is free: look again now

    async def _attempt(self, claimed: Claimed) -> None:
        try:
            await self._attempt_once(claimed)
        except Exception as exc:  # e.g. the metadb away while recording: the lease runs out, it is sent again
            log.warning("notifications: delivery %s: recording its attempt failed: %s", claimed.key, exc)

    async def _attempt_once(self, claimed: Claimed) -> None:
        started_ms, t0 = now_ms(), time.perf_counter()
        outcome, code, error = await self._send(claimed)
        seconds = time.perf_counter() - t0
        attempt = Attempt(started_ms, int(seconds * 1000), code, error)
        status = await deliveries.record(self.db, claimed, self.owner, attempt, self.settings)
        if self.on_attempt is not None:
            self.on_attempt(outcome, seconds)
        if status in (deliveries.SENT, deliveries.FAILED) and self.on_final is not None:
            self.on_final(status)
        if not attempt.ok:
            # The channel's id only: its URL may carry a token, and its headers and secret are never logged.
            log.info(
                "notifications: delivery %s (channel %d) attempt %d: %s", claimed.key, claimed.channel_id,
                claimed.attempt, error or f"HTTP {code}",
            )  # fmt: skip

    async def _send(self, claimed: Claimed) -> tuple[str, int | None, str | None]:
        """(outcome, HTTP status or None, error or None) of one POST."""
        try:
            target = channels.target(claimed.channel, self.box)
        except ValueError as exc:  # another secret.key than the one that encrypted the channel's secret
            return "error", None, f"not sent: {exc}"
        try:
            check_destination(_host(target.url), "notification channel")
        except DestinationRefused as exc:
            return "error", None, f"not sent: {exc}"
        body = claimed.payload.encode()
        headers = {
            **target.headers,
            "Content-Type": "application/json",
            "User-Agent": f"obcp/{__version__}",
            "X-OBCP-Event": claimed.event,
            "X-OBCP-Delivery-Id": claimed.key,
            "X-OBCP-Attempt": str(claimed.attempt),
            HEADER: signature(target.secret, int(time.time()), body),
        }
        timeout = self.settings.timeout_seconds
        _SENDING.set(True)  # this asyncio task's own context: other requests still log
        try:
            response = await asyncio.wait_for(
                self._http.post(target.url, content=body, headers=headers, timeout=timeout), timeout
            )
        except (TimeoutError, httpx.TimeoutException):
            return "timeout", None, f"no answer within {timeout:g} s"
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return "error", None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return "ok", response.status_code, None
        return "http_error", response.status_code, f"HTTP {response.status_code}"


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host
