"""OBCP_CONNECT_ALLOW: outside its networks, no SQL session and no agent call is attempted, and the error
names what was refused and why."""

from __future__ import annotations

import asyncio
import socket

import pytest

from obcp.agent.client import AgentClient, AgentError
from obcp.netpolicy import DestinationRefused, allowed_networks, check_destination
from obcp.ob.connection import ObEndpoint, ObTimeouts, connect
from obcp.ob.errors import ObConnectError


def test_unset_allows_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBCP_CONNECT_ALLOW", raising=False)
    assert allowed_networks() is None
    check_destination("203.0.113.7", "observer")
    check_destination("db.example", "observer")


def test_networks_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBCP_CONNECT_ALLOW", "127.0.0.0/8, 10.1.0.0/16")
    check_destination("127.0.0.5", "agent")
    check_destination("localhost", "agent")
    check_destination("10.1.2.3", "agent")
    with pytest.raises(DestinationRefused, match=r"agent 10\.2\.0\.1: outside OBCP_CONNECT_ALLOW"):
        check_destination("10.2.0.1", "agent")
    with pytest.raises(DestinationRefused, match="a host name"):
        check_destination("db.example", "observer")


def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBCP_CONNECT_ALLOW", "127.0.0.0/8,not-a-net")
    with pytest.raises(DestinationRefused, match="not a comma-separated list of networks"):
        check_destination("127.0.0.1", "agent")


def test_refused_destinations_are_never_contacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy is checked before any socket: a listener on an address outside it sees nothing."""
    monkeypatch.setenv("OBCP_CONNECT_ALLOW", "127.0.0.2/32")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]

    async def attempts() -> None:
        with pytest.raises(ObConnectError, match="outside OBCP_CONNECT_ALLOW"):
            await connect(ObEndpoint("127.0.0.1", port, "pw"), ObTimeouts(connect=1.0, read=1.0))
        async with AgentClient("127.0.0.1", port, "k" * 16, retries=0) as agent:
            with pytest.raises(AgentError, match="outside OBCP_CONNECT_ALLOW"):
                await agent.info()

    try:
        asyncio.run(attempts())
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()
