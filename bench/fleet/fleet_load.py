"""The fleet benchmark's clients, all through obcp's public HTTP API: registering the simulated hosts and
clusters, asking the restarts at once, and following them with pollers and event-stream watchers."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fleet_stack import ADMIN_PASSWORD
from sim_observers import OBSERVER_NAME, SQL_PORT, agent_key, host_address

AUTH = ("admin", ADMIN_PASSWORD)


def client(url: str, connections: int = 64) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # Plain HTTP on loopback: without verify=False each client loads the CA bundle (~55 ms of CPU; for the
    # 151 followers' clients, 8 s of the driver's CPU on the cores the server runs on as the restarts begin).
    return httpx.AsyncClient(
        base_url=url, auth=AUTH, timeout=120, limits=limits, trust_env=False, verify=False
    )


def task_head(text: bytes, opening: bytes, closing: bytes) -> dict[str, Any]:
    """A task view's JSON up to its `subtasks` (`opening`: the bytes the server writes at that one place),
    closed by `closing`: the task's own fields, without its subtasks. The driver decodes only these:
    decoding whole 236-subtask views took a third of its CPU, on the cores the server runs on; it still
    receives every byte of them."""
    cut = text.find(opening)
    if cut < 0:
        raise ValueError(f"no {opening!r} in the task view: {text[:200]!r}")
    head: dict[str, Any] = json.loads(text[:cut] + opening + closing)
    return head


def get_status(response: httpx.Response) -> str | None:
    """The status in `GET /api/v2/tasks/instances/{id}`'s answer: {"data":{…,"subtasks":[…]…},…}."""
    if response.status_code != 200:
        return None
    return str(task_head(response.content, b'"subtasks":[', b"]}}")["data"]["status"])


def event_task(data: str) -> dict[str, Any]:
    """An event's task without its subtasks: {…,"status":…,"subtasks": […]…}."""
    return task_head(data.encode(), b'"subtasks": [', b"]}")


def data(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()["data"]


async def register(
    url: str, clusters: int, zones: int, per_zone: int, seed: int, agent_port: int
) -> list[int]:
    """Every simulated host (POST /api/v2/compute/hosts), then each cluster (POST …/clusters/takeover)."""
    gate = asyncio.Semaphore(16)
    async with client(url) as http:

        async def host(index: int) -> int:
            address = host_address(index)
            body = {
                "name": address,
                "address": address,
                "agentPort": agent_port,
                "agentKey": agent_key(seed, address),
            }
            async with gate:
                return int(data(await http.post("/api/v2/compute/hosts", json=body))["id"])

        per_cluster = zones * per_zone
        host_ids = await asyncio.gather(*(host(i) for i in range(clusters * per_cluster)))

        async def cluster(c: int) -> int:
            ids = host_ids[c * per_cluster : (c + 1) * per_cluster]
            body = {
                "name": f"fleet{c + 1}",
                "rootPassword": "simulated-root-pw",
                "obVersion": "4.2.1.2",
                "zones": [
                    {
                        "name": f"zone{z + 1}",
                        "servers": [
                            {"hostId": h, "sqlPort": SQL_PORT, "rpcPort": 2882, "observerName": OBSERVER_NAME}
                            for h in ids[z * per_zone : (z + 1) * per_zone]
                        ],
                    }
                    for z in range(zones)
                ],
            }
            async with gate:
                return int(data(await http.post("/api/v2/ob/clusters/takeover", json=body))["id"])

        return list(await asyncio.gather(*(cluster(c) for c in range(clusters))))


@dataclass
class Latencies:
    task_get: list[float] = field(default_factory=list)
    page_get: list[float] = field(default_factory=list)
    sse_lag: list[float] = field(default_factory=list)  # s from a task's finishTime to a watcher seeing it
    sse_events: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)  # reconnected and went on


async def restart_all(urls: Sequence[str], cluster_ids: Sequence[int], refused: list[str]) -> list[int]:
    """POST …/restart (rolling) for every cluster at once, spread over the replicas; the task ids. A 503
    (the metadb busy or away: nothing was created) is asked again after a second, as a client would; each
    such answer is kept in `refused`."""
    https = [client(u, 256) for u in urls]

    async def post(i: int, cid: int) -> int:
        answered_503 = False
        while True:
            r = await https[i % len(https)].post(
                f"/api/v2/ob/clusters/{cid}/restart", json={"restartMode": "ROLLING"}
            )
            error = r.json().get("error", {}) if r.status_code != 200 else {}
            if answered_503 and error.get("code") == 11020:
                # The 503 came after the task was created (reading the answer timed out): the conflict
                # names it.
                created = int(error["target"]["taskId"])
                refused.append(f"cluster {cid}: a 503 answered a submission whose task {created} was created")
                return created
            if r.status_code != 503:
                return int(data(r)["id"])
            answered_503 = True
            refused.append(error.get("message", "503"))
            await asyncio.sleep(1.0)

    try:
        return list(await asyncio.gather(*(post(i, cid) for i, cid in enumerate(cluster_ids))))
    finally:
        for http in https:
            await http.aclose()


async def follow(
    urls: Sequence[str], task_ids: Sequence[int], pollers: int, watchers: int, poll_seconds: float = 0.5
) -> Latencies:
    """P pollers (each: its task `poll_seconds` after its last answer, 0.5 s as `obcp task watch` does, a
    page of the task list every tenth time) and W event-stream watchers, until every task has left
    RUNNING."""
    lat = Latencies()
    finished: set[int] = set()
    done = asyncio.Event()
    # A client of its own for each follower, as each user's tool or browser has: httpcore looks at every
    # connection of its pool at every request (with one pool of 158 connections, 71 % of this process's
    # CPU went there, on the cores the server runs on).
    https = [client(urls[n % len(urls)], 2) for n in range(pollers + watchers + 1)]

    async def poller(n: int) -> None:
        http = https[n]
        task_id = task_ids[n % len(task_ids)]
        rng = random.Random(n)
        await asyncio.sleep(rng.uniform(0, poll_seconds))
        turn = 0
        while not done.is_set():
            try:
                began = time.perf_counter()
                r = await http.get(f"/api/v2/tasks/instances/{task_id}")
                lat.task_get.append(time.perf_counter() - began)
                if get_status(r) not in (None, "RUNNING"):
                    finished.add(task_id)
                turn += 1
                if turn % 10 == 1:
                    began = time.perf_counter()
                    await http.get("/api/v2/tasks/instances", params={"page": rng.randint(1, 5), "size": 10})
                    lat.page_get.append(time.perf_counter() - began)
            except httpx.TransportError as exc:  # e.g. a kept-alive connection the server closed meanwhile
                lat.transport_errors.append(f"poller: {type(exc).__name__}")
            if len(finished) == len(task_ids):
                done.set()
            await asyncio.sleep(poll_seconds)

    async def watcher(n: int) -> None:
        http = https[pollers + n]
        task_id = task_ids[n % len(task_ids)]
        events = 0
        while True:  # reconnects as a browser's EventSource does
            try:
                async with http.stream("GET", f"/api/v2/tasks/instances/{task_id}/events") as stream:
                    async for line in stream.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        events += 1
                        task = event_task(line[5:])
                        if task.get("status") not in (None, "RUNNING"):
                            lat.sse_lag.append(time.time() - _epoch(task.get("finishTime")))
                            lat.sse_events.append(events)
                            return
            except httpx.TransportError as exc:
                lat.transport_errors.append(f"watcher: {type(exc).__name__}")
                await asyncio.sleep(1.0)

    async def checker() -> None:
        # Pollers cover the tasks they follow; this covers the rest (when there are fewer pollers).
        began, said = time.monotonic(), 0.0
        while not done.is_set():
            if time.monotonic() - said >= 10:
                said = time.monotonic()
                print(
                    f"   … {time.monotonic() - began:.0f} s: {len(finished)}/{len(task_ids)} tasks finished",
                    flush=True,
                )
            for task_id in set(task_ids) - finished:
                try:
                    r = await https[-1].get(f"/api/v2/tasks/instances/{task_id}")
                except httpx.TransportError:
                    continue
                if get_status(r) not in (None, "RUNNING"):
                    finished.add(task_id)
            if len(finished) == len(task_ids):
                done.set()
            await asyncio.sleep(1.0)

    try:
        watching = [asyncio.create_task(watcher(n)) for n in range(watchers)]
        await asyncio.gather(checker(), *(poller(n) for n in range(pollers)))
        try:
            await asyncio.wait_for(asyncio.gather(*watching), 30)
        except TimeoutError:
            lat.errors.append("some event-stream watchers saw no final event within 30 s of the end")
    finally:
        for http in https:
            await http.aclose()
    return lat


def _epoch(stamp: str | None) -> float:
    from datetime import datetime

    if not stamp:
        return time.time()
    return datetime.fromisoformat(stamp).timestamp()


async def fetch_tasks(url: str, task_ids: Sequence[int]) -> list[dict[str, Any]]:
    async with client(url) as http:
        gate = asyncio.Semaphore(8)

        async def one(task_id: int) -> dict[str, Any]:
            async with gate:
                task: dict[str, Any] = data(await http.get(f"/api/v2/tasks/instances/{task_id}"))
                return task

        return list(await asyncio.gather(*(one(t) for t in task_ids)))


async def subtask_log(url: str, task: dict[str, Any], step: str) -> str:
    sub = next(s for s in task["subtasks"] if s["name"] == step)
    async with client(url) as http:
        found = data(await http.get(f"/api/v2/tasks/instances/{task['id']}/subtasks/{sub['id']}/log"))
        return str(found["log"])


async def failures(url: str, tasks: Sequence[dict[str, Any]]) -> list[str]:
    """Each FAILED subtask's step and the last line of its log: why a task failed."""
    found = []
    async with client(url) as http:
        for task in tasks:
            for sub in task["subtasks"]:
                if sub["status"] == "FAILED":
                    path = f"/api/v2/tasks/instances/{task['id']}/subtasks/{sub['id']}/log"
                    lines = str(data(await http.get(path))["log"]).strip().splitlines()
                    found.append(f"task {task['id']} {sub['name']}: {lines[-1][-300:] if lines else ''}")
    return found
