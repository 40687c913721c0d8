"""The metadb goes away under running tasks and comes back: two real replicas on a PostgreSQL or MariaDB of
the test's own, stopped for longer than a lease while once-only steps run. The steps finish their work, their
results wait and are written when the metadb is back, nothing runs twice and nothing is lost; meanwhile
every API call answers at once with OCP's envelope, 503 and 34004."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from obcp.engine import Context
from obcp.engine.testing import once_chain
from tests.support.own_metadb import OwnMetadb

from .servers import ADMIN, Server, stop_all
from .test_failover import wait_for
from .test_processes import check_effects, prepare, submit, wait_settled

pytestmark = pytest.mark.slow

# Longer than a lease (2 s) and than the steps' work, so that results are ready while the metadb is away.
OUTAGE_SECONDS = 6.0


@pytest.fixture(params=["postgresql", "mysql"])
def metadb(request: pytest.FixtureRequest) -> Iterator[OwnMetadb]:
    db = OwnMetadb(request.param)
    try:
        db.create()
        yield db
    finally:
        db.destroy()


def check_unavailable(server: Server) -> list[str]:
    """Calls of every kind while the metadb is down: each a 503 envelope naming the MetaDB, well within 5 s
    (the client gives up after 5 s, which fails the test)."""
    calls = [
        ("GET", "/api/v2/tasks/instances", ADMIN),
        ("GET", "/api/v2/clusters", ADMIN),
        ("POST", "/api/v2/tasks/instances/1/retry", ADMIN),
        ("GET", "/api/v2/iam/users", ("admin", "not-the-password")),
    ]
    seen = []
    for method, path, auth in calls:
        response = httpx.request(method, f"{server.base}{path}", auth=auth, timeout=5)
        body = response.json()
        assert response.status_code == 503, (path, response.status_code, body)
        assert body["successful"] is False and body["status"] == 503, body
        assert body["error"]["code"] == 34004 and "MetaDB" in body["error"]["message"], body
        assert body["traceId"], body
        seen.append(path)
    return seen


async def test_metadb_outage_under_running_tasks(metadb: OwnMetadb, tmp_path: Path) -> None:
    url = metadb.url
    home = tmp_path / "home"
    prepare(url, home)
    # Heartbeats (and live-log flushes) at most once a second, sweeps five times a second: when the metadb
    # comes back, the sweeps see every lease expired before the owners can renew theirs. Only waiting one
    # lease period after an outage keeps them from taking the runs away.
    timers = {"OBCP_ENGINE_LOG_FLUSH_SECONDS": "1.0", "OBCP_ENGINE_SWEEP_SECONDS": "0.2"}
    servers = [Server(url, home, env=timers) for _ in range(2)]
    servers[0].start()
    servers[1].start()
    try:
        ctx = Context()
        ctx.put("sleep_ms", 2500)
        ctx.put("record_at", "start")  # the step's own metadb write is done before the outage
        ids = await submit(url, lambda: once_chain(2), 4, ctx)
        for tid in ids:
            await wait_for(url, tid, "obcp.test.OnceStep", lambda r: r.state == "RUNNING", seconds=30)
        metadb.stop()
        down_at = time.monotonic()
        for server in servers:
            assert len(check_unavailable(server)) == 4
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        metadb.start()
        states = await wait_settled(url, ids, 120)
        # Not one step was taken away from its owner or run again after the outage: all at runTime 1.
        assert set(states.values()) == {"SUCCESSFUL"}, states
        await check_effects(url, ids)
        for server in servers:
            assert server.proc is not None and server.proc.poll() is None
            assert server.get("/api/v2/tasks/instances")["page"]["totalElements"] == 4
            log = "".join(f.read_text(errors="replace") for f in home.glob(f"server-{server.port}-*.log"))
            assert "the metadb is unreachable" in log and "the metadb is back" in log, log
    finally:
        stop_all(servers)
