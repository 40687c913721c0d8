"""Signed calls against a real agent over HTTP: every forgery gets a clear 401, secrets never echo."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from obcp.agent.client import AgentClient, AgentError
from obcp.agent.ports import free_port
from obcp.agent.signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.agent.harness import AgentProcess, running_agent
from tests.support.ports import free_sql_ports

ADDRESS = "127.0.0.12"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("agent-security")
    observers = [{"name": "ob1", "base_dir": str(root / "ob1"), "sql_port": free_sql_ports(1)[0]}]
    with running_agent(root, ADDRESS, observers) as proc:
        yield proc


def raw(
    agent: AgentProcess,
    method: str,
    path: str,
    *,
    key: str | None = None,
    timestamp: int | None = None,
    nonce: str = "",
    signed_path: str | None = None,
    body: bytes = b"",
    signed_body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request signed by hand, so each part of the signature can be got wrong on purpose."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or f"n{time.monotonic_ns()}"
    signature = sign(
        (key or agent.key).encode(),
        method,
        signed_path or path,
        stamp,
        nonce,
        body if signed_body is None else signed_body,
    )
    sent = {TIMESTAMP_HEADER: stamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: signature}
    if headers is not None:
        sent = headers
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.request(
            method,
            f"http://{agent.address}:{agent.port}{path}",
            content=body,
            headers={**sent, "content-type": "application/json"},
        )


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["host"] == f"{ADDRESS}:{response.url.port}"
    return error


def test_a_correctly_signed_request_passes(agent: AgentProcess) -> None:
    assert raw(agent, "GET", "/v1/info").status_code == 200


def test_unsigned_request_is_rejected(agent: AgentProcess) -> None:
    for path in ("/v1/info", "/v1/observers/ob1", "/no/such/path"):
        error = error_of(raw(agent, "GET", path, headers={}), 401)
        assert error["code"] == "missing_signature"
        assert "not signed" in error["message"]


def test_wrong_key_is_rejected(agent: AgentProcess) -> None:
    error = error_of(raw(agent, "GET", "/v1/info", key="some-other-key-0123456789"), 401)
    assert error["code"] == "bad_signature"
    assert "agent key" in error["message"]


@pytest.mark.parametrize("skew", [-301, 400, -100_000])
def test_stale_or_future_timestamp_is_rejected(agent: AgentProcess, skew: int) -> None:
    error = error_of(raw(agent, "GET", "/v1/info", timestamp=int(time.time()) + skew), 401)
    assert error["code"] == "stale_timestamp"
    assert "±300 s" in error["message"]


def test_replayed_nonce_is_rejected(agent: AgentProcess) -> None:
    stamp = int(time.time())
    first = raw(agent, "GET", "/v1/info", timestamp=stamp, nonce="replay-nonce-1234")
    assert first.status_code == 200
    error = error_of(raw(agent, "GET", "/v1/info", timestamp=stamp, nonce="replay-nonce-1234"), 401)
    assert error["code"] == "replayed_nonce"
    assert "replay" in error["message"]


def test_signature_for_another_path_is_rejected(agent: AgentProcess) -> None:
    error = error_of(raw(agent, "POST", "/v1/observers/ob1/stop", signed_path="/v1/info"), 401)
    assert error["code"] == "bad_signature"
    # The query is part of the signed path too.
    error = error_of(
        raw(agent, "GET", "/v1/observers/ob1/log?lines=5", signed_path="/v1/observers/ob1/log"), 401
    )
    assert error["code"] == "bad_signature"
    error = error_of(
        raw(agent, "GET", "/v1/observers/ob1?ports=false", signed_path="/v1/observers/ob1?ports=true"), 401
    )
    assert error["code"] == "bad_signature"
    assert raw(agent, "GET", "/v1/observers/ob1?ports=false").status_code == 200


def test_signature_for_another_method_or_body_is_rejected(agent: AgentProcess) -> None:
    error = error_of(
        raw(agent, "POST", "/v1/info", signed_path="/v1/info", key=None, body=b"{}", signed_body=b""), 401
    )
    assert error["code"] == "bad_signature"
    body = json.dumps({"initialize": True}).encode()
    error = error_of(
        raw(agent, "POST", "/v1/observers/ob1/start", body=body, signed_body=b'{"initialize": false}'), 401
    )
    assert error["code"] == "bad_signature"


def test_a_rejected_request_does_not_burn_its_nonce(agent: AgentProcess) -> None:
    stamp = int(time.time())
    forged = raw(
        agent, "GET", "/v1/info", timestamp=stamp, nonce="nonce-burn-test", key="wrong-key-0123456789"
    )
    assert forged.status_code == 401
    assert raw(agent, "GET", "/v1/info", timestamp=stamp, nonce="nonce-burn-test").status_code == 200


async def test_unknown_observer_is_a_clear_404(agent: AgentProcess) -> None:
    async with AgentClient(agent.address, agent.port, agent.key) as client:
        for call in (
            client.status("nope"),
            client.start("nope"),
            client.stop("nope"),
            client.log_tail("nope"),
        ):
            with pytest.raises(AgentError) as caught:
                await call
            assert caught.value.status_code == 404 and caught.value.code == "unknown_observer"
            assert "no observer named 'nope'" in caught.value.message and "ob1" in caught.value.message
            assert str(caught.value).startswith(f"agent {agent.address}:{agent.port}: ")


async def test_client_with_wrong_key_gets_the_agents_reason(agent: AgentProcess) -> None:
    async with AgentClient(agent.address, agent.port, "not-the-key-0123456789") as client:
        with pytest.raises(AgentError) as caught:
            await client.info()
    assert caught.value.status_code == 401 and caught.value.code == "bad_signature"
    assert str(caught.value).startswith(f"agent {agent.address}:{agent.port}: info: the signature")


def test_bad_body_is_400_and_never_echoes_the_password(agent: AgentProcess) -> None:
    body = json.dumps({"initialize": "maybe", "rootPassword": "Sup3r_Secret_pw", "extra": 1}).encode()
    response = raw(agent, "POST", "/v1/observers/ob1/start", body=body)
    error = error_of(response, 400)
    assert error["code"] == "bad_request"
    assert "Sup3r_Secret_pw" not in response.text
    assert "Sup3r_Secret_pw" not in agent.log.read_text()


def test_no_route_runs_a_command_or_path(agent: AgentProcess) -> None:
    body = json.dumps({"binary": "/bin/sh", "baseDir": "/tmp"}).encode()
    assert raw(agent, "POST", "/v1/observers/ob1/start", body=body).status_code == 400
    assert raw(agent, "POST", "/v1/exec", body=b"{}").status_code == 404


def test_key_is_never_in_responses_or_log(agent: AgentProcess) -> None:
    for path in ("/v1/info", "/v1/observers", "/v1/observers/ob1"):
        assert agent.key not in raw(agent, "GET", path).text
    assert agent.key not in agent.log.read_text()


async def test_client_retries_then_names_host_and_command_when_agent_is_down() -> None:
    port = free_port(ADDRESS)
    async with AgentClient(ADDRESS, port, "k" * 32, retries=2, retry_delay=0.01) as client:
        t0 = time.monotonic()
        with pytest.raises(AgentError) as caught:
            await client.stop("ob1")
    assert f"agent {ADDRESS}:{port}: stop observer ob1: cannot connect" in str(caught.value)
    assert "gave up after 3 attempt(s) in " in str(caught.value)
    assert time.monotonic() - t0 < 5


def test_key_file_too_short_is_refused(tmp_path: Path) -> None:
    from obcp.agent.config import AgentConfig, read_agent_key

    key_file = tmp_path / "k"
    key_file.write_text("short")
    with pytest.raises(ValueError, match="shorter than 16"):
        read_agent_key(AgentConfig(key_file=key_file))
