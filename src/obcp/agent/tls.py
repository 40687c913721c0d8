"""The TLS context in which a client (the obcp server) calls agents that serve HTTPS: the agents'
certificates verified against their CA, and the client's own certificate for agents that require one
(mutual TLS). Kept here, beside the agent's own `[tls]`, so both sides read certificates the same way."""

from __future__ import annotations

import ssl
from pathlib import Path


def agent_client_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext | None:
    """None without a CA file (agents are then called over plain HTTP); raises ValueError naming a file
    that cannot be read, or half of a client certificate."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("the agents' client certificate and its key go together (both or neither)")
    if ca_file is None:
        if cert_file is not None:
            raise ValueError("a client certificate for the agents needs the agents' CA file too")
        return None
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        if cert_file is not None and key_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the agents' TLS files ({ca_file}, {cert_file}, {key_file}): {exc}"
        ) from exc
    return context
