"""`obcp agent install` sets up the agent's TLS by default: a config without certificates stops the install
with the openssl commands that make them; those very commands, run here, give an agent that serves mutual
TLS, which the server's agent context (OBCP_AGENT_CA_FILE, OBCP_AGENT_CLIENT_CERT/KEY) reaches and a client
without the certificate does not; `--no-tls` installs a plain-HTTP agent with a warning."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from obcp.agent.client import AgentClient, AgentError
from obcp.agent.tls import agent_client_context
from obcp.config import Settings
from obcp.install.agent_tls import certificate_commands
from obcp.meta.db import Database
from obcp.meta.inventory import ServerRef
from obcp.operations.services import OperationServices
from obcp.secretbox import SecretBox
from tests.agent.harness import running_agent
from tests.cli.test_install import invoke
from tests.support.ports import free_sql_ports

ADDRESS = "127.0.0.14"


def plain_config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f'listen = "{ADDRESS}:2886"\nkey_file = "agent.key"\n')
    return path


def test_install_without_certificates_stops_and_prints_how_to_make_them(tmp_path: Path) -> None:
    config = plain_config(tmp_path)
    result = invoke("agent", "install", "--config", str(config), "--user", "nobody", "--dry-run")
    assert result.exit_code == 2, result.output
    assert "the config has no [tls] section" in result.output
    for line in certificate_commands(ADDRESS):
        assert line in result.output, line
    assert "subjectAltName=IP:127.0.0.14" in result.output
    assert '[tls]\n  cert_file = "/etc/obcp/tls/agent.pem"' in result.output
    assert "OBCP_AGENT_CA_FILE=/etc/obcp/tls/agent-ca.pem" in result.output
    assert "[Service]" not in result.output  # no unit

    missing = tmp_path / "with-tls.toml"
    missing.write_text(
        config.read_text() + f'[tls]\ncert_file = "{tmp_path}/a.pem"\nkey_file = "{tmp_path}/a.key"\n'
    )
    result = invoke("agent", "install", "--config", str(missing), "--user", "nobody", "--dry-run")
    assert result.exit_code == 2 and f"[tls] cert_file {tmp_path}/a.pem does not exist" in result.output

    result = invoke("agent", "install", "--config", str(config), "--user", "nobody", "--dry-run", "--no-tls")
    assert result.exit_code == 0 and "WARNING: --no-tls: the agent serves plain HTTP" in result.output
    assert "[Service]" in result.output


def test_the_printed_commands_make_a_working_mutual_tls_agent(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    done = subprocess.run(
        ["sh", "-ec", "\n".join(certificate_commands(ADDRESS, tls))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for key in ("agent-ca.key", "agent.key", "server-client.key"):
        assert (tls / key).stat().st_mode & 0o077 == 0, key  # umask 077: keys readable by their owner only

    observers = [{"name": "ob1", "base_dir": str(tmp_path / "ob1"), "sql_port": free_sql_ports(1)[0]}]
    section = {
        "cert_file": str(tls / "agent.pem"),
        "key_file": str(tls / "agent.key"),
        "client_ca_file": str(tls / "agent-ca.pem"),
    }
    server_side = agent_client_context(
        tls / "agent-ca.pem", tls / "server-client.pem", tls / "server-client.key"
    )
    assert server_side is not None
    (tmp_path / "agent").mkdir()
    with running_agent(tmp_path / "agent", ADDRESS, observers, tls=section, tls_client=server_side) as agent:

        async def call(context: ssl.SSLContext | None) -> dict[str, Any]:
            async with AgentClient(ADDRESS, agent.port, agent.key, tls=context, retries=0) as client:
                return await client.info()

        assert asyncio.run(call(server_side))["host"] == f"{ADDRESS}:{agent.port}"
        without_cert = agent_client_context(tls / "agent-ca.pem")
        with pytest.raises(AgentError):
            asyncio.run(call(without_cert))
        # The server's own path: its settings (OBCP_AGENT_*) -> the operations' agent client -> HTTPS.
        settings = Settings(
            agent_ca_file=tls / "agent-ca.pem",
            agent_client_cert=tls / "server-client.pem",
            agent_client_key=tls / "server-client.key",
        )
        assert asyncio.run(status_through_the_services(settings, agent.port, agent.key))["running"] is False


async def status_through_the_services(settings: Settings, port: int, key: str) -> dict[str, Any]:
    box = SecretBox(Fernet.generate_key())
    services = OperationServices(Database("sqlite+aiosqlite://"), box, agent_tls=settings.agent_tls())
    ref = ServerRef(1, 1, 1, "zone1", 1, ADDRESS, 2881, 2882, "ob1", port, box.encrypt(key), "RUNNING")
    try:
        return await services.agent(ref).status("ob1", ports=False)
    finally:
        await services.close()


def test_half_an_agent_client_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        agent_client_context(tmp_path / "ca.pem", tmp_path / "c.pem", None)
    with pytest.raises(ValueError, match="cannot load"):
        agent_client_context(tmp_path / "ca.pem")
    assert agent_client_context(None) is None
