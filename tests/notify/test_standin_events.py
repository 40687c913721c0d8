"""Events from obcp's real operation paths, in-process, on the SCRIPTED STAND-IN of a distributed 4.x cluster
(tests/ob/ob4_standin.py: not a real cluster; no multi-node OceanBase runs here): a static parameter change
through `PUT …/parameters` writes PARAMETER_PENDING_RESTART in its transaction, and the rolling restart that
applies it is delivered as TASK_SUCCESSFUL with the restart POST's traceId. The receiver is a real HTTP
server on loopback; the signature is checked independently of obcp's code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.api.ocp import ok
from tests.notify.receiver import Receiver, running_receiver, verify_signature
from tests.operations.test_ob4_standin_dags import Harness, standin

__all__ = ["standin"]
pytestmark = pytest.mark.timeout(120)
SECRET = "whsec-standin-events-0123"


@pytest.fixture
def fast_sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OBCP_NOTIFY_POLL_SECONDS", "0.1")
    yield


@pytest.fixture
async def harness(fast_sender: None, standin: Harness) -> AsyncIterator[Harness]:
    yield standin


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


async def wait_requests(rx: Receiver, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(rx.on("/ok")) < count:
        assert time.monotonic() < deadline, rx.on("/ok")
        await asyncio.sleep(0.05)


async def test_parameter_change_and_the_restart_that_applies_it(harness: Harness, receiver: Receiver) -> None:
    h = harness
    subscriptions = [
        {"event": "PARAMETER_PENDING_RESTART", "clusterIds": [h.cluster_id]},
        {"event": "TASK_SUCCESSFUL", "clusterIds": [h.cluster_id]},
        {"event": "TASK_FAILED", "clusterIds": [h.cluster_id]},
    ]
    body = {"name": "ob4", "url": f"{receiver.base}/ok", "secret": SECRET, "subscriptions": subscriptions}
    ok(await h.http.post("/api/v2/alarm/channels", json=body))

    changed = await h.http.put(
        f"/api/v2/ob/clusters/{h.cluster_id}/parameters",
        json=[{"name": "net_thread_count", "value": 4}, {"name": "cpu_count", "value": "2"}],
    )
    ok(changed)
    await wait_requests(receiver, 1)
    (pending,) = receiver.on("/ok")
    verify_signature(SECRET, pending)
    payload = pending.json
    assert payload["event"] == "PARAMETER_PENDING_RESTART" and payload["traceId"] == changed.json()["traceId"]
    assert payload["cluster"] == {"id": h.cluster_id, "name": "ob4"} and payload["changedBy"] == "admin"
    # Only the static one waits for a restart, on every server of the cluster.
    assert payload["parameters"] == [
        {"name": "net_thread_count", "oldValue": "0", "newValue": "4",
         "pendingServerIds": sorted(h.server_ids.values())},
    ]  # fmt: skip

    restart = await h.post(f"/api/v2/ob/clusters/{h.cluster_id}/restart")
    task = await h.wait(ok(restart)["id"])
    assert task["status"] == "SUCCESSFUL", task
    await wait_requests(receiver, 2)
    done = receiver.on("/ok")[1]
    verify_signature(SECRET, done)
    assert done.headers["x-obcp-event"] == "TASK_SUCCESSFUL"
    sent = done.json
    assert sent["traceId"] == restart.json()["traceId"] == sent["task"]["traceId"]
    assert (sent["task"]["id"], sent["task"]["name"], sent["task"]["status"]) == (
        task["id"], task["name"], "SUCCESSFUL",
    )  # fmt: skip
    assert sent["cluster"] == {"id": h.cluster_id, "name": "ob4"}
    await asyncio.sleep(0.5)  # a few more polls: each event was delivered once
    assert len(receiver.on("/ok")) == 2
