"""Deliveries from real `obcp server` processes (tests/engine/servers.py) to a real HTTP receiver on loopback,
on SQLite and PostgreSQL (there with two replicas sharing the outbox): a failed and a successful task, and a
dozen more, each delivered exactly once with its payload and a
valid signature (checked independently); a receiver answering 500 retried, then marked FAILED, visible in the
API and in the metrics; a receiver that hangs holding its request while the next task runs all its subtasks;
and a server SIGKILLed while a delivery is in flight and while a task runs: after its restart every event is
delivered under one delivery id (the in-flight one is sent again with the same X-OBCP-Delivery-Id, which is
what a receiver deduplicates on). Tasks come from the engine's test templates (obcp.engine.testing), submitted
straight into the metadb; no secret appears in any API answer or server log.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from obcp.engine import Context, Engine, Template
from obcp.engine.testing import chain_template, effect_metadata, fail_template, noop_chain
from obcp.meta.db import Database, sync_url
from obcp.meta.migrate import upgrade
from obcp.secretbox import SecretBox
from tests.dbs import temporary_database
from tests.engine.servers import ADMIN, Server, stop_all
from tests.notify.receiver import Receiver, running_receiver, verify_signature

pytestmark = pytest.mark.slow

SECRET = "whsec-delivery-test-secret-77"
TOKEN = "Bearer tok-delivery-never-logged"
ENV = {
    "OBCP_NOTIFY_POLL_SECONDS": "0.2",
    "OBCP_NOTIFY_BACKOFF_SECONDS": "0.2",
    "OBCP_NOTIFY_MAX_ATTEMPTS": "3",
    # Longer than the hanging receiver is held in the test: the hang must outlast the next task.
    "OBCP_NOTIFY_TIMEOUT_SECONDS": "30",
    "OBCP_LOG_LEVEL": "info",
}
CHANNELS = "/api/v2/alarm/channels"


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, auth=ADMIN, timeout=10)
        self.answers: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, path, **kwargs)
        self.answers.append(resp.text)
        assert resp.status_code == 200, (method, path, resp.text)
        return resp.json()["data"] if "json" in resp.headers.get("content-type", "") else resp.text

    def channel(self, name: str, url: str, subscriptions: list[dict[str, Any]]) -> int:
        body = {"name": name, "url": url, "secret": SECRET, "subscriptions": subscriptions,
                "headers": {"Authorization": TOKEN}}  # fmt: skip
        return int(self.call("POST", CHANNELS, json=body)["id"])

    def deliveries(self, channel_id: int) -> list[dict[str, Any]]:
        page = self.call("GET", f"{CHANNELS}/{channel_id}/deliveries", params={"size": 100})
        contents: list[dict[str, Any]] = page["contents"]
        return contents

    def wait_deliveries(
        self, channel_id: int, statuses: list[str], seconds: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while True:
            found = self.deliveries(channel_id)
            if sorted(d["status"] for d in found) == sorted(statuses):
                return found
            assert time.monotonic() < deadline, found
            time.sleep(0.1)

    def wait_task(self, task_id: int, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            task: dict[str, Any] = self.call("GET", f"/api/v2/tasks/instances/{task_id}")
            if task["status"] != "RUNNING":
                return task
            assert time.monotonic() < deadline, task
            time.sleep(0.1)


def prepare(url: str, home: Path) -> None:
    upgrade(url)
    eng = create_engine(sync_url(url))
    effect_metadata.create_all(eng)
    eng.dispose()
    SecretBox.from_file(home / "secret.key")


async def submit(db: Database, template: Template, name: str, **kwargs: Any) -> int:
    ctx = kwargs.pop("ctx", None)
    return await Engine(db, "test-submitter").submit(template, ctx, creator="admin", name=name, **kwargs)


def by_task(received: list[Any]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for r in received:
        found.setdefault(r.json["task"]["id"], []).append(r)
    return found


def metric(text: str, name: str, labels: dict[str, str], default: float | None = None) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    assert default is not None, f"no sample {name}{labels}"
    return default


def scrape_all(replicas: list[Server]) -> list[str]:
    texts = []
    for r in replicas:
        resp = httpx.get(f"{r.base}/metrics", auth=ADMIN, timeout=10)
        assert resp.status_code == 200, resp.text
        texts.append(resp.text)
    return texts


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_deliveries_end_to_end(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as raw_url, running_receiver() as rx:
        url = f"sqlite+aiosqlite:///{tmp_path / 'notify.sqlite'}" if kind == "sqlite" else str(raw_url)
        home = tmp_path / "home"
        prepare(url, home)
        # On PostgreSQL two replicas share the metadb and the outbox: each delivery is still sent once.
        replicas = [Server(url, home, env=ENV) for _ in range(2 if kind == "postgresql" else 1)]
        server = replicas[0]
        server.start()  # first alone: it creates the default users
        for other in replicas[1:]:
            other.start()
        db = Database(url)
        api = Api(server.base)
        try:
            await once_each_and_retries(api, db, rx, replicas)
            await hang_delays_nothing(api, db, rx)
            stop_all(replicas[1:])  # the kill below must hit the replica that holds the request
            await across_a_sigkill(api, db, rx, server)
        finally:
            stop_all(replicas)
            await db.dispose()
            api.http.close()
        for text in api.answers:
            assert SECRET not in text and "tok-delivery" not in text
        logs = "".join(p.read_text(errors="replace") for p in home.glob("server-*.log"))
        assert "notifications: delivery" in logs  # the failed attempts were logged ...
        assert SECRET not in logs and "tok-delivery" not in logs  # ... without the secret or the token


async def once_each_and_retries(api: Api, db: Database, rx: Receiver, replicas: list[Server]) -> None:
    both = [{"event": "TASK_FAILED", "clusterIds": [7]}, {"event": "TASK_SUCCESSFUL", "clusterIds": [7]}]
    ok_channel = api.channel("ok", f"{rx.base}/ok", both)
    failing = api.channel(
        "answers-500", f"{rx.base}/fail", [{"event": "TASK_FAILED", "taskNames": ["Notify fail"]}]
    )
    neither: list[dict[str, Any]] = [
        {"event": "TASK_FAILED", "clusterIds": [999]},
        {"event": "TASK_SUCCESSFUL", "taskNames": ["No"]},
    ]
    elsewhere = api.channel("elsewhere", f"{rx.base}/ok", neither)
    good = await submit(db, noop_chain(2), "Notify ok", cluster_id=7, trace_id="trace-ok")
    bad = await submit(db, fail_template(), "Notify fail", cluster_id=7, trace_id="trace-fail")
    assert (api.wait_task(good)["status"], api.wait_task(bad)["status"]) == ("SUCCESSFUL", "FAILED")

    received = by_task(rx.wait("/ok", 2))
    assert sorted(received) == sorted([good, bad]) and all(len(r) == 1 for r in received.values())
    for task_id, state, event, trace in [(good, "SUCCESSFUL", "TASK_SUCCESSFUL", "trace-ok"),
                                         (bad, "FAILED", "TASK_FAILED", "trace-fail")]:  # fmt: skip
        (r,) = received[task_id]
        verify_signature(SECRET, r)
        assert r.headers["authorization"] == TOKEN and r.headers["x-obcp-event"] == event
        body = r.json
        assert body["event"] == event and body["deliveryId"] == r.delivery_id and body["traceId"] == trace
        assert body["cluster"] == {"id": 7, "name": None}
        task = body["task"]
        assert (task["id"], task["status"], task["clusterId"], task["traceId"]) == (task_id, state, 7, trace)
        assert task["name"] == ("Notify ok" if task_id == good else "Notify fail") and task["finishTime"]

    (failed,) = api.wait_deliveries(failing, ["FAILED"])
    assert failed["attemptCount"] == 3 and failed["lastError"] == "HTTP 500"
    assert [a["statusCode"] for a in failed["attempts"]] == [500, 500, 500]
    assert all(a["durationMillis"] >= 0 and a["sender"] for a in failed["attempts"])
    attempts = rx.on("/fail")
    assert len(attempts) == 3 and {a.delivery_id for a in attempts} == {failed["deliveryId"]}
    assert [a.headers["x-obcp-attempt"] for a in attempts] == ["1", "2", "3"]
    for a in attempts:
        verify_signature(SECRET, a)
    assert sorted(d["status"] for d in api.wait_deliveries(ok_channel, ["SENT", "SENT"])) == ["SENT", "SENT"]
    assert api.deliveries(elsewhere) == []

    many = api.channel(
        "many", f"{rx.base}/many", [{"event": "TASK_SUCCESSFUL", "taskNames": ["Notify many"]}]
    )
    ids = [await submit(db, noop_chain(1), "Notify many") for _ in range(12)]
    received = by_task(rx.wait("/many", 12))
    assert sorted(received) == sorted(ids) and all(len(r) == 1 for r in received.values())
    assert len({r.delivery_id for r in rx.on("/many")}) == 12
    api.wait_deliveries(many, ["SENT"] * 12)

    # Counters are per replica (summed: each attempt counted once); the outbox gauge is the metadb's (max).
    scrapes = scrape_all(replicas)

    def total(name: str, labels: dict[str, str]) -> float:
        return sum(metric(s, name, labels, default=0.0) for s in scrapes)

    assert total("obcp_notify_attempts_total", {"outcome": "http_error"}) == 3
    assert total("obcp_notify_attempts_total", {"outcome": "ok"}) == 14
    assert total("obcp_notify_deliveries_total", {"status": "FAILED"}) == 1
    assert total("obcp_notify_deliveries_total", {"status": "SENT"}) == 14
    for scrape in scrapes:
        assert "obcp_notify_attempts" in scrape
        assert metric(scrape, "obcp_notify_outbox_deliveries", {"status": "FAILED"}) == 1
        assert metric(scrape, "obcp_notify_outbox_deliveries", {"status": "SENT"}) == 14


async def hang_delays_nothing(api: Api, db: Database, rx: Receiver) -> None:
    """While a delivery's request hangs in the receiver, the next task is claimed, run and settled: the
    sender runs beside the engine, never in its way. Proven by order, not by timing: the request is still
    held when the next task has finished."""
    hang = api.channel(
        "hangs", f"{rx.base}/hang", [{"event": "TASK_SUCCESSFUL", "taskNames": ["Notify hang"]}]
    )
    first = await submit(db, noop_chain(1), "Notify hang")
    rx.wait_holding("/hang")
    following = await submit(db, noop_chain(5), "Notify next")
    task = api.wait_task(following)
    assert task["status"] == "SUCCESSFUL", task
    assert all(s["status"] == "SUCCESSFUL" for s in task["subtasks"]), task["subtasks"]
    assert rx.holding["/hang"] == 1, "the hanging request must still be held"
    (pending,) = api.deliveries(hang)
    assert pending["status"] == "PENDING" and pending["payload"]["task"]["id"] == first
    rx.release["/hang"].set()
    (sent,) = api.wait_deliveries(hang, ["SENT"])
    assert sent["attemptCount"] == 1 and len(rx.on("/hang")) == 1


async def across_a_sigkill(api: Api, db: Database, rx: Receiver, server: Server) -> None:
    """SIGKILL while one delivery's request is held by the receiver and another task is still running; after
    the restart the held delivery is sent again under the same delivery id, the running task settles and is
    delivered, and nothing is delivered under a second id."""
    killed = api.channel(
        "kill", f"{rx.base}/first-hang", [{"event": "TASK_SUCCESSFUL", "taskNames": ["Notify kill"]}]
    )
    sent_first = await submit(db, noop_chain(1), "Notify kill")
    ctx = Context()
    ctx.put("sleep_ms", 2000)
    running = await submit(db, chain_template(1), "Notify kill", ctx=ctx)
    rx.wait_holding("/first-hang")
    server.kill()
    rx.release["/first-hang"].set()  # its answer goes to a dead socket: obcp never learnt of it
    server.start()
    assert api.wait_task(sent_first)["status"] == "SUCCESSFUL"
    assert api.wait_task(running)["status"] == "SUCCESSFUL"
    done = api.wait_deliveries(killed, ["SENT", "SENT"])
    requests = rx.on("/first-hang")
    ids = {r.delivery_id for r in requests}
    assert ids == {d["deliveryId"] for d in done}
    per_task = {task_id: {r.delivery_id for r in rs} for task_id, rs in by_task(requests).items()}
    assert sorted(per_task) == sorted([sent_first, running]) and all(len(v) == 1 for v in per_task.values())
    counts = Counter(r.delivery_id for r in requests)
    (held_id,) = per_task[sent_first]
    assert counts[held_id] == 2, counts  # the held request and its repeat, one delivery id
    for r in requests:
        verify_signature(SECRET, r)
    assert len(rx.on("/ok")) == 2  # the restart re-sent nothing that was already delivered
