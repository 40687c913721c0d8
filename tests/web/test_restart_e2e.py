"""End to end from the browser: restart the 1 x 1 sandbox (real seekdb observer and agent) from the cluster
page and watch every node reach SUCCESSFUL; make an observer unable to start, see the FAILED subtask with
its error, and complete the task with Retry from the page.

They need the restart route (`POST /api/v2/ob/clusters/{id}/restart`) and `obcp sandbox`; without either
they are skipped and say which is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Browser

from tests.agent.harness import kill_observer
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


def _kill_recorded(root: Path) -> None:
    """Whatever the sandbox left running, stopped by the pids it recorded (checked against start times)."""
    state_file = root / "sandbox.json"
    if not state_file.exists():
        return
    for server in json.loads(state_file.read_text()).get("servers", []):
        kill_observer(Path(server["base_dir"]))
        pid, started = server.get("agent_pid"), server.get("agent_create_time")
        if pid is None or started is None:
            continue
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if abs(proc.create_time() - started) < 0.01:
                proc.kill()


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
        _kill_recorded(root)


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
    w.page.locator("#subtasks tbody tr", has_text="Start observer process").first.click()
    w.page.wait_for_function("() => (document.querySelector('#subtask-log') || {}).textContent?.length > 20")
    w.page.screenshot(path=str(artifact("console-restart-sandbox-finished.png")))
    assert console.task(task_id)["status"] == "SUCCESSFUL"
    w.expect_no_errors()


class PortSquatter:
    """Takes the observer's SQL port the moment the restart's stop frees it, so the start fails for real."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.release = threading.Event()
        self.taken = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 300
        while not self.release.is_set() and time.monotonic() < deadline:
            sock = socket.socket()
            try:
                # seekdb listens on every address; holding the wildcard port is what makes it fail to start.
                sock.bind(("0.0.0.0", self.port))
                sock.listen(1)
            except OSError:
                sock.close()
                time.sleep(0.005)
                continue
            self.taken.set()
            self.release.wait(timeout=300)
            sock.close()
            return

    def __enter__(self) -> PortSquatter:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(timeout=10)


def test_a_failing_observer_start_shows_failed_and_retry_from_the_page_completes(
    browser: Browser, console: Console, pages: list[Watched], sandbox: int
) -> None:
    with console.client() as c:
        server = c.get(f"/api/v2/ob/clusters/{sandbox}/servers").json()["data"]["contents"][0]
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    with PortSquatter(server["sqlPort"]) as squatter:
        task_id = _restart_from_page(w, sandbox)
        w.page.wait_for_selector("#task-status [data-state=FAILED]", timeout=TASK_TIMEOUT_MS)
        assert squatter.taken.is_set()
        failed = w.page.locator("#subtasks tbody tr[data-state=FAILED]").first
        failed.click()
        w.page.wait_for_selector("#side-error")
        assert w.page.inner_text("#side-error").strip()
        w.page.screenshot(path=str(artifact("console-restart-sandbox-failed.png")))
    # The port is free again: Retry from the page finishes the restart.
    w.page.click("#task-retry")
    w.page.wait_for_selector("#task-status [data-state=SUCCESSFUL]", timeout=TASK_TIMEOUT_MS)
    assert console.task(task_id)["status"] == "SUCCESSFUL"
    # Chromium reports nothing but, possibly, refused resource loads of the failed run's log polling.
    assert all("Failed to load resource" in e for e in w.errors), w.errors
