"""What one follower's request costs the server: CPU per request of the kinds the fleet benchmark's
followers send (issue 16).

    python bench/fleet/request_cost.py [--clients 20] [--requests 100] [--metadb sqlite|postgresql]

Submits 10 tasks of a restart's size (a 234-wide fan-out: 236 subtasks, like a rolling restart of 3 zones
x 10 servers) through obcp's engine into a fresh metadb, starts a real `obcp server` on it (which cannot
run their test steps, so they stay as submitted), and sends each request `--clients` x `--requests` times
from that many clients at once, reading the server process's CPU time (/proc) before and after. Baselines
in the same run: `GET /api/v2/time` (no credential, no metadb) and `GET /api/v2/info` (a Basic credential
checked, nothing else read), so a task GET's own cost is its difference to them. The pollers of
`run.py` ask a task GET every 0.5 s and a list page every tenth time; each cost here is a share of a core
at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fleet_report import summary
from fleet_stack import ADMIN_PASSWORD, metadb

from obcp.agent.ports import free_port
from obcp.engine import Context, Engine
from obcp.engine.testing import noop_fanout
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade
from obcp.sandbox.server_process import running_server

WIDTH = 234  # + a root and a join: a 3 x 10 rolling restart's 236 subtasks


async def submit(url: str, tasks: int) -> None:
    db = Database(url)
    engine = Engine(db, "bench-request-cost")  # never started: it only writes the submissions
    try:
        for i in range(tasks):
            ctx = Context()
            ctx.put_list("items", [str(n) for n in range(WIDTH)])
            await engine.submit(noop_fanout(WIDTH), ctx, creator="bench", name=f"Restart-sized {i}")
    finally:
        await db.dispose()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send(url: str, path: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=60, trust_env=False, verify=False
        ) as http:
            for _ in range(requests):
                began = time.perf_counter()
                r = await http.get(path)
                latencies.append(time.perf_counter() - began)
                if r.status_code != 200:
                    raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def main() -> int:
    p = argparse.ArgumentParser(description="server CPU per follower request")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=100, help="per client")
    p.add_argument("--metadb", choices=["sqlite", "postgresql"], default="sqlite")
    args = p.parse_args()
    paths = {
        "GET /api/v2/time (no credential; baseline)": "/api/v2/time",
        "GET /api/v2/info (a credential; baseline)": "/api/v2/info",
        f"task GET ({WIDTH + 2} subtasks)": "/api/v2/tasks/instances/1",
        "task list page (10 such tasks)": "/api/v2/tasks/instances?page=1&size=10",
    }
    home = Path(tempfile.mkdtemp(prefix="obcp-reqcost-"))
    with metadb(args.metadb, home) as url:
        upgrade(url)
        asyncio.run(submit(url, 10))
        env = {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD, "OBCP_DB_URL": url}
        with running_server(home, free_port("127.0.0.1"), env) as server:
            print(f"{args.metadb}; {args.clients} clients x {args.requests} requests each, per kind:")
            for label, path in paths.items():
                asyncio.run(send(server.url, path, 5, 10))  # warm: the credential's check, the views
                cpu = process_cpu(server.proc.pid)
                latencies = asyncio.run(send(server.url, path, args.clients, args.requests))
                used = (process_cpu(server.proc.pid) - cpu) / len(latencies)
                print(f"  {label:<44} server CPU {used * 1000:5.2f} ms a request; latency "
                      f"{summary(latencies, ' ms', 1000)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
