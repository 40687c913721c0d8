"""How the server listens: HTTPS with `--tls-cert`/`--tls-key` (and client certificates with
`--tls-client-ca`), or plain HTTP — on a loopback address only, unless `--allow-plain-http` says the network
in between is trusted, and then with a warning at start and in `GET /api/status`.

Everything here is checked before the server binds anything, so a refused start never listened."""

from __future__ import annotations

import ssl
from typing import Any

from obcp.config import Settings
from obcp.metrics_listener import is_loopback

# One year, the value HSTS preload lists ask for; sent only on answers given over TLS (RFC 6797 §7.2).
HSTS = "max-age=31536000"


def tls_enabled(settings: Settings) -> bool:
    return settings.tls_cert is not None


def plain_http_warning(settings: Settings) -> str | None:
    """The warning of a server that serves plain HTTP beyond loopback (allowed by --allow-plain-http)."""
    if tls_enabled(settings) or is_loopback(settings.host):
        return None
    return (
        f"plain HTTP on {settings.host} (--allow-plain-http): passwords, access-key signatures and session "
        "cookies cross the network in the clear; give --tls-cert and --tls-key"
    )


def check_listen(settings: Settings) -> None:
    """Raises ValueError naming what is wrong: half a TLS configuration, unreadable certificate files, or
    plain HTTP on a non-loopback address without --allow-plain-http."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together (OBCP_TLS_CERT, OBCP_TLS_KEY)")
    if settings.tls_client_ca is not None and settings.tls_cert is None:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key: client certificates need TLS")
    if tls_enabled(settings):
        server_context(settings)
        return
    if not is_loopback(settings.host) and not settings.allow_plain_http:
        raise ValueError(
            f"--host {settings.host} is not a loopback address: without TLS, passwords and access-key "
            "signatures would cross the network in the clear. Give --tls-cert and --tls-key (OBCP_TLS_CERT, "
            "OBCP_TLS_KEY), or --allow-plain-http (OBCP_ALLOW_PLAIN_HTTP) if the network is trusted"
        )


def server_context(settings: Settings) -> ssl.SSLContext:
    """The server's TLS context as uvicorn will build it, built here first so a bad file is named."""
    assert settings.tls_cert is not None and settings.tls_key is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the TLS certificate {settings.tls_cert} with its key {settings.tls_key}: {exc}"
        ) from exc
    if settings.tls_client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(settings.tls_client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the client CA {settings.tls_client_ca}: {exc}") from exc
    return context


def uvicorn_tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's ssl_* keyword arguments: none for plain HTTP."""
    if not tls_enabled(settings):
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert),
        "ssl_keyfile": str(settings.tls_key),
    }
    if settings.tls_client_ca is not None:
        options["ssl_ca_certs"] = str(settings.tls_client_ca)
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options
