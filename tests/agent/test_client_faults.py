"""The agent client against hosts that misbehave at the socket level (real sockets on loopback): one that
accepts and never answers, one that drops the connection after the request, one that is closed. Every
failure is bounded and names the host, the call and how long it waited."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from obcp.agent.client import AgentClient, AgentError, _retryable
from obcp.agent.ports import free_port

ADDRESS = "127.0.0.1"
KEY = "k" * 32


@contextlib.contextmanager
def listener(drop: bool) -> Iterator[int]:
    """A listening port; with `drop`, each connection is read and closed without an answer, else it is
    left to the kernel's backlog (accepted, never answered)."""
    sock = socket.socket()
    sock.bind((ADDRESS, 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    if drop:
        thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        if drop:
            thread.join()
        sock.close()


def waited(error: AgentError) -> float:
    match = re.search(r"gave up after 3 attempt\(s\) in ([\d.]+) s$", str(error))
    assert match, str(error)
    return float(match.group(1))


async def test_a_host_that_never_answers_fails_bounded_naming_host_call_and_wait() -> None:
    with listener(drop=False) as port:
        async with AgentClient(ADDRESS, port, KEY, timeout=0.3, retry_delay=0.01) as client:
            with pytest.raises(AgentError) as caught:
                await client.status("ob1")
    text = str(caught.value)
    assert text.startswith(
        f"agent {ADDRESS}:{port}: status observer ob1: no answer within 0.3 s (ReadTimeout)"
    )
    assert waited(caught.value) >= 0.9  # three attempts of 0.3 s each
    assert caught.value.lost is False and caught.value.status_code is None


async def test_a_dropped_connection_is_lost_and_says_so() -> None:
    with listener(drop=True) as port:
        async with AgentClient(ADDRESS, port, KEY, timeout=5, retry_delay=0.01) as client:
            with pytest.raises(AgentError) as caught:
                await client.start("ob1")
    assert caught.value.lost is True
    assert "the connection dropped before the answer (RemoteProtocolError" in str(caught.value)
    waited(caught.value)


async def test_a_drop_then_a_closed_port_is_still_lost() -> None:
    """The agent died in the middle of the call and is not back yet: the call may have been acted on."""
    sock = socket.socket()
    sock.bind((ADDRESS, 0))
    sock.listen(1)
    port = sock.getsockname()[1]

    def die_during_the_call() -> None:
        conn, _ = sock.accept()
        conn.recv(65536)
        sock.close()  # the port is closed before the connection drops: every retry is refused
        conn.close()

    thread = threading.Thread(target=die_during_the_call, daemon=True)
    thread.start()
    async with AgentClient(ADDRESS, port, KEY, timeout=5, retry_delay=0.01) as client:
        with pytest.raises(AgentError) as caught:
            await client.start("ob1")
    thread.join()
    assert caught.value.lost is True
    assert "the connection dropped before the answer, then cannot connect" in str(caught.value)
    waited(caught.value)


async def test_a_closed_port_fails_fast_and_is_not_lost() -> None:
    port = free_port(ADDRESS)
    async with AgentClient(ADDRESS, port, KEY, retry_delay=0.01) as client:
        with pytest.raises(AgentError) as caught:
            await client.start("ob1")
    assert "cannot connect" in str(caught.value) and "is the agent running?" in str(caught.value)
    assert caught.value.lost is False
    waited(caught.value)


def test_a_long_call_is_not_tried_again_after_a_timeout() -> None:
    timeout = httpx.ReadTimeout("timed out")
    assert _retryable(timeout, True, long_call=False) is True
    assert _retryable(timeout, True, long_call=True) is False
    refused = httpx.ConnectError("refused")
    assert _retryable(refused, False, long_call=True) is True
    assert _retryable(httpx.RemoteProtocolError("dropped"), False, long_call=False) is False
