"""Optional mutual TLS: a client with the right certificate gets through, one without it does not."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from obcp.agent.client import AgentClient, AgentError
from tests.agent.harness import AgentProcess, running_agent
from tests.support.ports import free_sql_ports
from tests.support.tls_certs import make_certificates

ADDRESS = "127.0.0.13"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"), ADDRESS)


def client_context(certs: dict[str, Path], with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    if with_cert:
        context.load_cert_chain(str(certs["client_cert"]), str(certs["client_key"]))
    return context


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, Path]) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("agent-tls")
    observers = [{"name": "ob1", "base_dir": str(root / "ob1"), "sql_port": free_sql_ports(1)[0]}]
    tls = {
        "cert_file": str(certs["server_cert"]),
        "key_file": str(certs["server_key"]),
        "client_ca_file": str(certs["ca"]),
    }
    with running_agent(root, ADDRESS, observers, tls=tls, tls_client=client_context(certs, True)) as proc:
        yield proc


async def test_mutual_tls_client_with_certificate_is_served(
    agent: AgentProcess, certs: dict[str, Path]
) -> None:
    async with AgentClient(agent.address, agent.port, agent.key, tls=client_context(certs, True)) as client:
        info = await client.info()
        status = await client.status("ob1")
    assert info["host"] == f"{ADDRESS}:{agent.port}"
    assert status["running"] is False


async def test_mutual_tls_client_without_certificate_is_refused(
    agent: AgentProcess, certs: dict[str, Path]
) -> None:
    async with AgentClient(
        agent.address, agent.port, agent.key, tls=client_context(certs, False), retries=0
    ) as client:
        with pytest.raises(AgentError) as caught:
            await client.info()
    assert str(caught.value).startswith(f"agent {ADDRESS}:{agent.port}: info: ")
    assert caught.value.status_code is None


async def test_plain_http_to_a_tls_agent_fails(agent: AgentProcess) -> None:
    async with AgentClient(agent.address, agent.port, agent.key, retries=0) as client:
        with pytest.raises(AgentError):
            await client.info()
