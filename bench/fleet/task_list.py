"""Does the task list page instantly with 10,000 tasks? (issue 16)

    python bench/fleet/task_list.py [--tasks 10000] [--metadb sqlite|postgresql]

Submits the tasks through obcp's engine (`Engine.submit`, the real transaction: task, subtasks, edges) into
a fresh metadb, starts a real `obcp server` on it (which cannot run their test steps, so they stay READY
or PENDING), and times what the console's Tasks page asks (`GET /api/v2/tasks/instances?page=N&size=20`,
with and without its filters) on the first, a middle and the last page, and a CLI-sized page of 100.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fleet_report import summary
from fleet_stack import ADMIN_PASSWORD, metadb

from obcp.agent.ports import free_port
from obcp.engine import Context, Engine
from obcp.engine.testing import noop_chain, noop_fanout
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade
from obcp.sandbox.server_process import running_server

CHROMIUM = "/usr/bin/chromium"


async def submit(url: str, count: int) -> float:
    db = Database(url)
    engine = Engine(db, "bench-task-list")  # never started: it only writes the submissions
    began = time.perf_counter()
    try:
        for i in range(count):
            # One task in ten a fan-out of 30 (a restart-sized page), the others 3-step chains.
            if i % 10 == 0:
                ctx = Context()
                ctx.put_list("items", [str(n) for n in range(30)])
                await engine.submit(noop_fanout(30), ctx, creator="bench", name=f"Fan-out {i}")
            else:
                await engine.submit(noop_chain(3), Context(), creator="bench", name=f"Chain {i}")
    finally:
        await db.dispose()
    return time.perf_counter() - began


async def measure(url: str, pages: int, rounds: int) -> dict[str, list[float]]:
    queries: dict[str, dict[str, str | int]] = {
        "page 1 of 20": {"page": 1, "size": 20},
        f"page {pages // 2} of 20": {"page": pages // 2, "size": 20},
        f"last page ({pages}) of 20": {"page": pages, "size": 20},
        "page 1 of 100": {"page": 1, "size": 100},
        "status=RUNNING, page 1": {"page": 1, "size": 20, "status": "RUNNING"},
        "name=Fan-out, page 1": {"page": 1, "size": 20, "name": "Fan-out"},
        "name=Fan-out, last page": {"page": max(1, pages // 10), "size": 20, "name": "Fan-out"},
    }
    found: dict[str, list[float]] = {k: [] for k in queries}
    async with httpx.AsyncClient(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=60) as http:
        for _ in range(rounds):
            for label, params in queries.items():
                began = time.perf_counter()
                r = await http.get("/api/v2/tasks/instances", params=params)
                found[label].append(time.perf_counter() - began)
                if r.status_code != 200 or not r.json()["data"]["contents"]:
                    raise RuntimeError(f"{label}: {r.status_code} {r.text[:200]}")
    return found


def console_figures(url: str, pages: int, rounds: int) -> dict[str, list[float]]:
    """The console's Tasks page in Debian's chromium (headless, through Playwright): from the hash change
    to the page's table and pager drawn."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
        )
        try:
            page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 800})
            page.goto("/")
            page.wait_for_url("**/login")
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-ready='1']")
            for n in (1, pages // 2, pages) * rounds:
                page.evaluate("location.hash = '#/clusters'")
                page.wait_for_selector("h1:text('Clusters')")
                began = time.perf_counter()
                page.evaluate(f"location.hash = '#/tasks?page={n}'")
                page.wait_for_selector(f"#page-info:has-text('page {n} of')")
                found.setdefault(f"console: Tasks page {n}", []).append(time.perf_counter() - began)
        finally:
            browser.close()
    return found


def main() -> int:
    p = argparse.ArgumentParser(description="task list paging with many tasks")
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--metadb", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="obcp-tasklist-"))
    with metadb(args.metadb, home) as url:
        upgrade(url)
        seconds = asyncio.run(submit(url, args.tasks))
        print(f"{args.tasks} tasks submitted through the engine in {seconds:.1f} s ({args.metadb})")
        env = {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD, "OBCP_DB_URL": url}
        with running_server(home, free_port("127.0.0.1"), env) as server:
            pages = (args.tasks + 19) // 20
            figures = asyncio.run(measure(server.url, pages, args.rounds))
            if Path(CHROMIUM).exists():
                figures.update(console_figures(server.url, pages, max(1, args.rounds // 4)))
            else:
                print(f"no {CHROMIUM}: the console's page was not measured")
    for label, values in figures.items():
        what = label if label.startswith("console") else f"GET /api/v2/tasks/instances {label}"
        print(f"  {what:<56} {summary(values, ' ms', 1000)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
