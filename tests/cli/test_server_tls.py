"""`obcp server` over HTTPS with a CA made in the test: the CLI, the sandbox's API client and a plain urllib
client verify it; plain HTTP to the TLS port fails; the console cookie is Secure and answers carry HSTS;
client certificates are required when a client CA is given. And the refusal to listen on a non-loopback
address without TLS, decided before anything is bound (no test listens or sends beyond 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from obcp.agent.ports import free_port
from obcp.cli.main import app
from obcp.sandbox.server_api import ObcpApi
from obcp.sandbox.server_process import ServerProcess, start_server, stop_process, wait_answering
from tests.cli.test_server import clean_env
from tests.support.tls_certs import make_certificates

ADMIN_PASSWORD = "TlsAdmin-Pw-7hQ2xK"
ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("server-tls"), "127.0.0.1")


def trusting(certs: dict[str, Path], client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    if client_cert:
        context.load_cert_chain(str(certs["client_cert"]), str(certs["client_key"]))
    return context


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, certs: dict[str, Path]
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two servers started side by side: HTTPS, and HTTPS requiring client certificates (the TLS files
    from the environment, as a unit's environment file gives them)."""
    tls = {"OBCP_TLS_CERT": str(certs["server_cert"]), "OBCP_TLS_KEY": str(certs["server_key"])}
    env = clean_env(OBCP_ADMIN_PASSWORD=ADMIN_PASSWORD, **tls)
    plain = start_server(tmp_path_factory.mktemp("https-home"), free_port(), env, scheme="https")
    mutual_env = {**env, "OBCP_TLS_CLIENT_CA": str(certs["ca"])}
    mutual = start_server(tmp_path_factory.mktemp("mtls-home"), free_port(), mutual_env, scheme="https")
    try:
        wait_answering(plain, verify=trusting(certs))
        wait_answering(mutual, verify=trusting(certs, client_cert=True))
        yield plain, mutual
    finally:
        stop_process(plain.proc)
        stop_process(mutual.proc)


@pytest.fixture(scope="module")
def https_server(servers: tuple[ServerProcess, ServerProcess]) -> ServerProcess:
    return servers[0]


@pytest.fixture(scope="module")
def mtls_server(servers: tuple[ServerProcess, ServerProcess]) -> ServerProcess:
    return servers[1]


def test_urllib_verifies_the_server_against_the_test_ca(
    https_server: ServerProcess, certs: dict[str, Path]
) -> None:
    request = urllib.request.Request(f"{https_server.url}/api/v2/ob/clusters")
    request.add_unredirected_header("Authorization", "Basic " + _basic(*ADMIN))
    with urllib.request.urlopen(request, context=trusting(certs), timeout=30) as answer:
        body = json.loads(answer.read())
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert body["successful"] is True and body["data"]["contents"] == []
    # Without the test's CA, the system's CAs do not vouch for it: refused before any request is sent.
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(f"{https_server.url}/api/v2/time", timeout=30)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_to_the_tls_port_fails(https_server: ServerProcess) -> None:
    plain = https_server.url.replace("https://", "http://")
    # The TLS listener reads the request as a broken handshake and drops the connection: no answer at all.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{plain}/api/v2/time", timeout=10)


def test_the_cli_speaks_https_with_obcp_ca_file(https_server: ServerProcess, certs: dict[str, Path]) -> None:
    runner = CliRunner()
    env = clean_env(OBCP_URL=https_server.url, OBCP_USER="admin", OBCP_PASSWORD=ADMIN_PASSWORD)
    trusted = runner.invoke(
        app, ["cluster", "list", "-o", "json"], env={**env, "OBCP_CA_FILE": str(certs["ca"])}
    )
    assert trusted.exit_code == 0, trusted.output
    assert json.loads(trusted.output)["contents"] == []
    untrusted = runner.invoke(app, ["cluster", "list"], env=env)
    assert untrusted.exit_code == 2
    assert (
        "cannot reach the obcp server" in untrusted.output and "CERTIFICATE_VERIFY_FAILED" in untrusted.output
    )
    missing = runner.invoke(app, ["cluster", "list"], env={**env, "OBCP_CA_FILE": str(certs["ca"]) + ".none"})
    assert missing.exit_code == 2 and "cannot read the CA file" in missing.output


def test_the_sandbox_client_speaks_https(https_server: ServerProcess, certs: dict[str, Path]) -> None:
    async def register() -> tuple[int, dict[str, object]]:
        api = ObcpApi(https_server.url, *ADMIN, ca_file=certs["ca"])
        try:
            return await api._call("GET", "/api/v2/compute/hosts")
        finally:
            await api.aclose()

    status, body = asyncio.run(register())
    assert status == 200 and body["successful"] is True


def test_console_cookie_is_secure_over_tls(https_server: ServerProcess, certs: dict[str, Path]) -> None:
    with httpx.Client(base_url=https_server.url, verify=trusting(certs), timeout=30) as browser:
        answer = browser.post("/api/v2/iam/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 200, answer.text
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("; Secure" in c for c in cookies), cookies
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


def test_client_certificate_required_with_a_client_ca(
    mtls_server: ServerProcess, certs: dict[str, Path]
) -> None:
    with httpx.Client(verify=trusting(certs, client_cert=True), timeout=30) as client:
        assert client.get(f"{mtls_server.url}/api/status", auth=ADMIN).text == "okay"
    with httpx.Client(verify=trusting(certs), timeout=30) as client, pytest.raises(httpx.HTTPError):
        # TLS 1.3 finishes the handshake first, then the server's alert ends the connection: no answer.
        client.get(f"{mtls_server.url}/api/v2/time")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40", "::", "obcp.example"])
def test_no_plain_http_beyond_loopback(host: str, tmp_path: Path) -> None:
    """Refused while reading the options: nothing is bound on `host` and no metadb is created."""
    result = CliRunner().invoke(
        app, ["server", "--host", host, "--home", str(tmp_path / "home")], env=clean_env()
    )
    assert result.exit_code == 2, result.output
    assert "is not a loopback address" in result.output and "--allow-plain-http" in result.output
    assert not (tmp_path / "home").exists()


def test_half_a_tls_configuration_is_refused(tmp_path: Path, certs: dict[str, Path]) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    cases = [
        (["--tls-cert", str(certs["server_cert"])], "go together"),
        (["--tls-client-ca", str(certs["ca"])], "needs --tls-cert"),
        (["--tls-cert", str(certs["server_cert"]), "--tls-key", str(certs["client_key"])], "cannot load"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["server", *args, *home], env=clean_env())
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not (tmp_path / "home").exists()


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()
