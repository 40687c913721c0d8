"""The agent's TLS as `obcp agent install` sets it up: the config's `[tls]` must name certificate files that
exist, or the install stops and prints the openssl commands that make them (a CA kept by the operator, a
server certificate for this agent's address, a client certificate for the obcp server) and where each file
goes. `--no-tls` installs a plain-HTTP agent, with a warning: its calls stay HMAC-signed but not secret."""

from __future__ import annotations

import shlex
from pathlib import Path

from obcp.agent.config import AgentConfig

TLS_DIR = Path("/etc/obcp/tls")
DAYS = 825  # the longest validity that browsers and most TLS stacks still accept for a leaf certificate


def problems(config: AgentConfig) -> list[str]:
    """What stands between the config and an agent that serves HTTPS; empty when nothing does."""
    if config.tls is None:
        return ["the config has no [tls] section: the agent would serve plain HTTP"]
    files = [("cert_file", config.tls.cert_file), ("key_file", config.tls.key_file)]
    if config.tls.client_ca_file is not None:
        files.append(("client_ca_file", config.tls.client_ca_file))
    return [f"[tls] {name} {path} does not exist" for name, path in files if not path.is_file()]


def agent_address(config: AgentConfig) -> str:
    host = (config.listen or "127.0.0.1:2886").rpartition(":")[0].strip("[]")
    return host or "127.0.0.1"


def _subject_alt_name(address: str) -> str:
    kind = "IP" if address.replace(".", "").isdigit() or ":" in address else "DNS"
    return f"{kind}:{address}"


def certificate_commands(address: str, directory: Path = TLS_DIR) -> list[str]:
    """Shell lines (POSIX sh, openssl 1.1.1 or later) that make the CA once, then this agent's server
    certificate and the obcp server's client certificate, every key 0600, in `directory`."""
    d = shlex.quote(str(directory))
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    sign = f"-CA {d}/agent-ca.pem -CAkey {d}/agent-ca.key -CAcreateserial -days {DAYS}"
    san = shlex.quote(f"subjectAltName={_subject_alt_name(address)}")
    return [
        f"mkdir -p {d} && cd {d} && umask 077",
        "# once, for all agents (keep agent-ca.key offline; agent-ca.pem goes to the agents and the server):",
        f"[ -f {d}/agent-ca.key ] || openssl req -x509 {ec} -days 3650 -subj '/CN=obcp agent CA'"
        f" -keyout {d}/agent-ca.key -out {d}/agent-ca.pem",
        f"# this agent ({address}): its server certificate",
        f"openssl req {ec} -subj {shlex.quote('/CN=' + address)} -keyout {d}/agent.key -out {d}/agent.csr",
        f"printf '%s\\nextendedKeyUsage=serverAuth\\n' {san} > {d}/agent.ext",
        f"openssl x509 -req -in {d}/agent.csr {sign} -extfile {d}/agent.ext -out {d}/agent.pem",
        "# once, for the obcp server: the client certificate it shows to agents (mutual TLS)",
        f"openssl req {ec} -subj '/CN=obcp server' -keyout {d}/server-client.key -out {d}/server-client.csr",
        f"printf 'extendedKeyUsage=clientAuth\\n' > {d}/server-client.ext",
        f"openssl x509 -req -in {d}/server-client.csr {sign} -extfile {d}/server-client.ext"
        f" -out {d}/server-client.pem",
    ]


def tls_section(directory: Path = TLS_DIR) -> str:
    return (
        "[tls]\n"
        f'cert_file = "{directory}/agent.pem"\n'
        f'key_file = "{directory}/agent.key"\n'
        f'client_ca_file = "{directory}/agent-ca.pem"\n'
    )


def instructions(config: AgentConfig, config_path: Path, user: str) -> str:
    """What to run and where each file goes, for a config whose TLS is missing or incomplete."""
    address = agent_address(config)
    lines = [
        "the agent serves HTTPS (mutual TLS) by default: its calls carry the clusters' root passwords.",
        "Make the certificates (on an admin host; the CA key never leaves it):",
        "",
        *(f"  {c}" for c in certificate_commands(address)),
        "",
        f"Copy agent.pem, agent.key and agent-ca.pem to {TLS_DIR}/ on this host (agent.key 0600, owned by "
        f"{user}), add to {config_path}:",
        "",
        *(f"  {line}" for line in tls_section().splitlines()),
        "",
        "and give the obcp server (its environment file) the CA and its client certificate:",
        "",
        f"  OBCP_AGENT_CA_FILE={TLS_DIR}/agent-ca.pem",
        f"  OBCP_AGENT_CLIENT_CERT={TLS_DIR}/server-client.pem",
        f"  OBCP_AGENT_CLIENT_KEY={TLS_DIR}/server-client.key",
        "",
        "then run `obcp agent install` again; or pass --no-tls for an agent on plain HTTP (not recommended).",
    ]
    return "\n".join(lines)
