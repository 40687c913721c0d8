"""A real Prometheus (Debian's package) scrapes a real `obcp server` every second on loopback, three ways:
with the bearer token made for it, with Basic auth as a user, and on the unauthenticated `--metrics-listen`
address; the result is read back through Prometheus' HTTP API. Without the package the test installs it
with apt-get (as root, as CI runs); it skips, saying why, only outside CI when it cannot."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from obcp.agent.ports import free_port
from obcp.sandbox.server_process import ServerProcess, running_server, stop_process
from tests.stack import ADMIN_PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PROMETHEUS = Path("/usr/bin/prometheus")
TOKEN = "prometheus-bearer-token-abcdef0123"


def ensure_prometheus() -> Path:
    if PROMETHEUS.exists():
        return PROMETHEUS
    in_ci = os.environ.get("CI") == "true"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        reason = "Debian's prometheus package is not installed and apt-get cannot install it here (not root)"
        if in_ci:
            pytest.fail(reason)
        pytest.skip(reason)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    for cmd in (["apt-get", "update", "-q"], install):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            message = f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}"
            if in_ci:
                pytest.fail(message)
            pytest.skip(message)
    assert PROMETHEUS.exists(), "apt-get installed prometheus but /usr/bin/prometheus is missing"
    return PROMETHEUS


def config(server_port: int, open_port: int, token_file: Path) -> str:
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: obcp-token
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs: [{{targets: ["127.0.0.1:{server_port}"]}}]
  - job_name: obcp-basic
    basic_auth: {{username: admin, password: {ADMIN_PASSWORD}}}
    static_configs: [{{targets: ["127.0.0.1:{server_port}"]}}]
  - job_name: obcp-open
    static_configs: [{{targets: ["127.0.0.1:{open_port}"]}}]
"""


@contextlib.contextmanager
def prometheus(binary: Path, home: Path, cfg: str) -> Iterator[str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "prometheus.yml").write_text(cfg)
    port = free_port("127.0.0.1")
    argv = [str(binary), f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with (home / "prometheus.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def query(url: str, promql: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(url: str, promql: str, want: int, seconds: float = 90) -> list[dict[str, Any]]:
    """Polls the query until it has `want` series (Prometheus scrapes each second)."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.TransportError):
            result = query(url, promql)
            if len(result) >= want:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus at {url} has no {want} series for {promql!r} in {seconds:g} s")
        time.sleep(0.5)


@pytest.fixture
def obcp(tmp_path: Path) -> Iterator[tuple[ServerProcess, int, Path]]:
    token_file = tmp_path / "metrics.token"
    token_file.write_text(TOKEN)
    open_port = free_port("127.0.0.1")
    env = {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD, "OBCP_METRICS_TOKEN_FILE": str(token_file)}
    args = ["--metrics-listen", f"127.0.0.1:{open_port}"]
    with running_server(tmp_path / "server", free_port("127.0.0.1"), env, args) as server:
        yield server, open_port, token_file


def test_a_real_prometheus_scrapes_obcp_three_ways(
    obcp: tuple[ServerProcess, int, Path], tmp_path: Path
) -> None:
    binary = ensure_prometheus()
    server, open_port, token_file = obcp
    port = int(server.url.rsplit(":", 1)[1])
    with prometheus(binary, tmp_path / "prometheus", config(port, open_port, token_file)) as prom:
        for _ in range(3):
            httpx.get(f"{server.url}/api/v2/ob/clusters", auth=("admin", ADMIN_PASSWORD), timeout=10)
        up = wait_for(prom, "up == 1", 3)
        assert {s["metric"]["job"] for s in up} == {"obcp-token", "obcp-basic", "obcp-open"}
        route = 'obcp_http_requests_total{route="/api/v2/ob/clusters",method="GET",status="200"}'
        seen = wait_for(prom, f"sum by (job) ({route})", 3)
        assert all(float(s["value"][1]) >= 3 for s in seen), seen
        # Prometheus' own scrapes show up as requests of the /metrics route, answered 200.
        scrapes = wait_for(prom, 'obcp_http_requests_total{route="/metrics",status="200"}', 1)
        assert scrapes
        assert wait_for(prom, "obcp_engine_runs_active", 3)
