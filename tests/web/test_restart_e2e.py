"""End to end from the browser: restart the 1 x 1 sandbox (real seekdb observer and agent) from the cluster
page and watch every node reach SUCCESSFUL; make an observer unable to start, see the FAILED subtask with
its error, and complete the task with Retry from the page.

They need the restart route (`POST /api/v2/ob/clusters/{id}/restart`) and `obcp sandbox`; without either
they are skipped and say which is missing.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Browser

from tests.support.processes import kill_sandbox_leftovers
from tests.web.conftest import ADMIN_PASSWORD, Console, Watched, artifact, login, open_page

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]

RESTART = "/api/v2/ob/clusters/{id}/restart"
TASK_TIMEOUT_MS = 300_000
OBCP = [sys.executable, "-m", "obcp"]


def _obcp(console: Console, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OBCP_URL": console.url, "OBCP_USER": "admin", "OBCP_PASSWORD": ADMIN_PASSWORD}
    return subprocess.run(
        [*OBCP, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def sandbox(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not console.has_route("post", RESTART):
        pytest.skip(
            f"needs POST {RESTART}: the restart route (src/obcp/api/routes/operations.py) is not registered "
            "in the server yet"
        )
    if _obcp(console, "sandbox", "--help", timeout=60).returncode != 0:
        pytest.skip("needs `obcp sandbox` (src/obcp/sandbox/) to run real seekdb observers with agents")
    root = tmp_path_factory.mktemp("sandbox") / "sb"
    try:
        up = _obcp(console, "sandbox", "up", "--zones", "1", "--servers-per-zone", "1", "--dir", str(root))
        assert up.returncode == 0, up.stdout + up.stderr
        match = re.search(r"^cluster id: (\d+)$", up.stdout, re.M)
        assert match, up.stdout
        yield int(match.group(1))
    finally:
        _obcp(console, "sandbox", "down", "--purge", "--dir", str(root))
        kill_sandbox_leftovers(root)


def _restart_from_page(w: Watched, cluster_id: int) -> int:
    w.page.goto(f"/#/clusters/{cluster_id}")
    w.page.click("[data-target=cluster][data-action=restart]")
    w.page.wait_for_selector("#preview-dag canvas", timeout=30_000)
    # The dry run of a 1 x 1 cluster is the seed's DAG.
    assert "19 subtasks" in w.page.inner_text("#preview-summary")
    w.page.click("#confirm-ok")
    w.page.wait_for_url(re.compile(r".*#/tasks/\d+$"))
    return int(w.page.url.rsplit("/", 1)[1])


def test_restart_the_sandbox_from_the_cluster_page(
    browser: Browser, console: Console, pages: list[Watched], sandbox: int
) -> None:
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    task_id = _restart_from_page(w, sandbox)
    w.page.wait_for_selector("#task-status [data-state=SUCCESSFUL]", timeout=TASK_TIMEOUT_MS)
    states = w.page.evaluate("() => window.obcpConsole.cy.nodes('[sid]').map(n => n.data('status'))")
    assert len(states) == 19 and set(states) == {"SUCCESSFUL"}, states
    w.page.locator(".dag-card").screenshot(path=str(artifact("console-restart-sandbox-dag.png")))
    w.page.click("#dag-fit")
    w.page.locator(".dag-card").screenshot(path=str(artifact("console-restart-sandbox-dag-whole.png")))
    w.page.locator("#subtasks tbody tr", has_text="Start observer process").first.click()
    w.page.wait_for_function("() => (document.querySelector('#subtask-log') || {}).textContent?.length > 20")
    w.page.screenshot(path=str(artifact("console-restart-sandbox-finished.png")))
    assert console.task(task_id)["status"] == "SUCCESSFUL"
    # The clusters page shows the last operation with the outage obcp measured during it.
    w.page.goto(f"{console.url}/#/clusters")
    cell = w.page.locator("#clusters .last-op", has_text=f"#{task_id} ")
    outage = cell.locator(".outage")
    outage.wait_for(timeout=10_000)
    assert re.fullmatch(r"outage: \d+\.\d s", outage.inner_text().strip()), outage.inner_text()
    w.expect_no_errors()


class StartBlocker:
    """Makes the restart's observer start fail for real: its SQL port is taken between the stop and the start.

    The stop itself checks that the port is released, so the port can only be taken once the stop's agent
    call has returned and before the engine moves on. The blocker therefore holds the SQLite metadb's write
    lock from the moment the stop runs (the engine cannot record it, so nothing after it starts), waits for
    the observer's port to be released, takes it, and lets the engine go on: the start finds the port held.
    """

    def __init__(self, db_path: Path, port: int) -> None:
        self.db_path = db_path
        self.port = port
        with sqlite3.connect(db_path) as db:
            self.after_task = db.execute("SELECT COALESCE(MAX(id), 0) FROM task_instance").fetchone()[0]
        self.release = threading.Event()
        self.taken = threading.Event()
        self.problem: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _listening(self) -> bool:
        return any(
            c.laddr and c.laddr.port == self.port and c.status == psutil.CONN_LISTEN
            for c in psutil.net_connections(kind="tcp")
        )

    def _run(self) -> None:
        deadline = time.monotonic() + 300
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        sock = socket.socket()
        try:
            query = (
                "SELECT 1 FROM subtask_instance WHERE task_id > ? AND name = 'Stop observer process'"
                " AND state = 'RUNNING'"
            )
            while db.execute(query, (self.after_task,)).fetchone() is None:
                if self.release.is_set() or time.monotonic() > deadline:
                    self.problem = "the restart's stop never ran"
                    return
                time.sleep(0.001)
            db.execute("BEGIN IMMEDIATE")
            try:
                while self._listening():
                    if time.monotonic() > deadline:
                        self.problem = "the observer never released its port"
                        return
                    time.sleep(0.05)
                time.sleep(2.0)  # the agent's stop call returns once it has seen the port free
                # seekdb listens on every address, so the wildcard port is what stops it from starting;
                # SO_REUSEADDR only lets us past the readiness probes' TIME_WAIT connections.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", self.port))
                sock.listen(1)
                self.taken.set()
            finally:
                db.execute("ROLLBACK")
            self.release.wait(timeout=300)
        except Exception as exc:
            self.problem = f"{type(exc).__name__}: {exc}"
        finally:
            sock.close()
            db.close()

    def __enter__(self) -> StartBlocker:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def test_a_failing_observer_start_shows_failed_and_retry_from_the_page_completes(
    browser: Browser, console: Console, pages: list[Watched], sandbox: int
) -> None:
    with console.client() as c:
        server = c.get(f"/api/v2/ob/clusters/{sandbox}/servers").json()["data"]["contents"][0]
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    with StartBlocker(console.db_path, server["sqlPort"]) as blocker:
        task_id = _restart_from_page(w, sandbox)
        ended = "#task-status [data-state=FAILED], #task-status [data-state=SUCCESSFUL]"
        w.page.wait_for_selector(ended, timeout=TASK_TIMEOUT_MS)
        assert blocker.taken.is_set(), blocker.problem
        assert w.page.is_visible("#task-status [data-state=FAILED]")
        w.page.locator("#subtasks tbody tr[data-state=FAILED]").first.click()
        w.page.wait_for_selector("#side-error")
        assert w.page.inner_text("#side-title").startswith("Start observer process")
        error = w.page.inner_text("#side-error")
        assert str(server["sqlPort"]) in error and "held" in error, error
        w.page.wait_for_function(
            "() => (document.querySelector('#subtask-log') || {}).textContent?.length > 20"
        )
        w.page.screenshot(path=str(artifact("console-restart-sandbox-failed.png")))
    # The port is free again: Retry from the page finishes the restart.
    w.page.click("#task-retry")
    w.page.wait_for_selector("#task-status [data-state=SUCCESSFUL]", timeout=TASK_TIMEOUT_MS)
    assert console.task(task_id)["status"] == "SUCCESSFUL"
    w.page.screenshot(path=str(artifact("console-restart-sandbox-retried.png")))
    w.expect_no_errors()
