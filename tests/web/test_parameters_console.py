"""From the browser: the cluster page of a 3 x 1 sandbox (real seekdb observers and agents) lists a static
parameter still pending restart on two of its servers, and "Restart to apply" opens the restart dialog for
exactly their zones; confirming it runs the restart, after which nothing is pending."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.processes import kill_sandbox_leftovers
from tests.web.conftest import ADMIN_PASSWORD, Console, Watched, login, open_page

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


def _obcp(console: Console, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OBCP_URL": console.url, "OBCP_USER": "admin", "OBCP_PASSWORD": ADMIN_PASSWORD}
    cmd = [sys.executable, "-m", "obcp", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400, check=False)


@pytest.fixture(scope="module")
def cluster_id(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("params-sandbox") / "sb"
    try:
        up = _obcp(console, "sandbox", "up", "--zones", "3", "--name", "params-sb", "--dir", str(root))
        assert up.returncode == 0, up.stdout + up.stderr
        match = re.search(r"^cluster id: (\d+)$", up.stdout, re.M)
        assert match, up.stdout
        yield int(match.group(1))
    finally:
        _obcp(console, "sandbox", "down", "--purge", "--dir", str(root))
        kill_sandbox_leftovers(root)


def wait_task(console: Console, task_id: int) -> str:
    deadline = time.monotonic() + 300
    while (status := str(console.task(task_id)["status"])) == "RUNNING":
        assert time.monotonic() < deadline, f"task {task_id} still running"
        time.sleep(0.3)
    return status


def test_restart_to_apply_opens_the_dialog_for_exactly_the_pending_servers(
    browser: Browser, console: Console, pages: list[Watched], cluster_id: int
) -> None:
    base = f"/api/v2/ob/clusters/{cluster_id}"
    with console.client() as c:
        r = c.put(f"{base}/parameters", json=[{"name": "net_thread_count", "value": 2}])
        assert r.status_code == 200, r.text
        zone_task = c.post(f"{base}/zones/zone2/restart", json={"minorFreeze": False}).json()["data"]["id"]
    assert wait_task(console, zone_task) == "SUCCESSFUL"

    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/clusters/{cluster_id}")
    item = w.page.locator("#pending-parameters [data-parameter=net_thread_count]")
    item.wait_for(timeout=30_000)
    text = item.inner_text()
    assert text.startswith("net_thread_count = 2 on restart of zone1 ") and " zone3 " in text, text
    assert "zone2" not in text, text
    w.page.click("[data-action=restart-to-apply]")
    w.page.wait_for_selector("#preview-dag canvas", timeout=30_000)
    boxes = {z: w.page.is_checked(f"[data-zone-box={z}]") for z in ("zone1", "zone2", "zone3")}
    assert boxes == {"zone1": True, "zone2": False, "zone3": True}, boxes
    assert "zones zone1, zone3" in w.page.inner_text("#preview-summary")
    assert "Applies net_thread_count." in w.page.inner_text("#confirm-text")
    w.page.click("#confirm-ok")
    w.page.wait_for_url(re.compile(r".*#/tasks/\d+$"))
    task_id = int(w.page.url.rsplit("/", 1)[1])
    assert wait_task(console, task_id) == "SUCCESSFUL"
    w.page.goto(f"/#/clusters/{cluster_id}")
    w.page.wait_for_selector("[data-zone=zone1]")
    assert w.page.locator("#pending-parameters").count() == 0
    w.expect_no_errors()
