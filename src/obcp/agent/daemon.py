"""Run the agent: load the config and key, adopt running observers, serve the API with uvicorn (and, with
`metrics_listen`, GET /metrics unsigned on a second address)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn

from obcp import logformat
from obcp.agent.app import adopt_running_observers, create_agent_app
from obcp.agent.config import AgentConfig, load_agent_config, read_agent_key
from obcp.agent.metrics import AgentMetrics
from obcp.metrics_listener import MetricsListener, checked_address

log = logging.getLogger("obcp.agent")


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be ADDRESS:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def build_server(config: AgentConfig, listen: str, log_level: str = "info") -> uvicorn.Server:
    host, port = parse_listen(listen)
    key = read_agent_key(config)
    app = create_agent_app(config, key, f"{host}:{port}")
    adopt_running_observers(app)
    kwargs: dict[str, object] = {}
    if config.tls is not None:
        kwargs.update(ssl_certfile=str(config.tls.cert_file), ssl_keyfile=str(config.tls.key_file))
        if config.tls.client_ca_file is not None:
            kwargs.update(ssl_ca_certs=str(config.tls.client_ca_file), ssl_cert_reqs=ssl.CERT_REQUIRED)
    uv_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # keep the handler of `logformat.configure`, whose lines carry the traceId
        access_log=True,
        server_header=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return uvicorn.Server(uv_config)


def run_agent(
    config_path: Path,
    listen: str | None,
    log_level: str = "info",
    metrics_listen: str | None = None,
    metrics_listen_public: bool = False,
) -> None:
    logformat.configure(log_level)
    config = load_agent_config(config_path)
    address = listen or config.listen
    if address is None:
        raise ValueError("no listen address: pass --listen ADDRESS:PORT or set `listen` in the config")
    metrics_address = metrics_listen or config.metrics_listen
    public = metrics_listen_public or config.metrics_listen_public
    if metrics_address:
        checked_address(metrics_address, public)
    server = build_server(config, address, log_level)
    log.info("obcp agent listening on %s with %d observer(s)", address, len(config.observers))
    if not metrics_address:
        server.run()
        return
    metrics = getattr(getattr(server.config.app, "state", None), "metrics", None)
    assert isinstance(metrics, AgentMetrics)
    asyncio.run(_serve_with_metrics(server, MetricsListener(metrics_address, public, _async(metrics))))


def _async(metrics: AgentMetrics) -> Callable[[], Awaitable[bytes]]:
    async def render() -> bytes:
        return metrics.render()

    return render


async def _serve_with_metrics(server: uvicorn.Server, listener: MetricsListener) -> None:
    await listener.start()
    log.info("metrics without a signature on http://%s:%d/metrics", listener.host, listener.port)
    try:
        await server.serve()
    finally:
        await listener.stop()
