"""From the browser: the cluster page of a 3 x 1 sandbox (real seekdb observers and agents) lists a static
parameter still pending restart on two of its servers, and "Restart to apply" opens the restart dialog for
exactly their zones; confirming it runs the restart, after which nothing is pending."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.stack import ADMIN_PASSWORD, running_stack
from tests.web.conftest import Console, Watched, login, open_page

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Stack:
    console: Console
    cluster_id: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A server of its own: the 3 x 1 sandbox's hosts and ports must not meet the shared console's
    sandboxes (a cluster stays registered after `sandbox down`)."""
    home = tmp_path_factory.mktemp("params-console")
    with running_stack(home, zones=3) as (server, _, sb):
        yield Stack(Console(server.url, home / "server", home / "server" / "metadb.sqlite"), sb.cluster_id)


def wait_task(console: Console, task_id: int) -> str:
    deadline = time.monotonic() + 300
    while (status := str(task(console, task_id)["status"])) == "RUNNING":
        assert time.monotonic() < deadline, f"task {task_id} still running"
        time.sleep(0.3)
    return status


def client(console: Console) -> httpx.Client:
    return httpx.Client(base_url=console.url, auth=("admin", ADMIN_PASSWORD), timeout=30)


def task(console: Console, task_id: int) -> dict[str, Any]:
    with client(console) as c:
        data: dict[str, Any] = c.get(f"/api/v2/tasks/instances/{task_id}").json()["data"]
    return data


def test_restart_to_apply_opens_the_dialog_for_exactly_the_pending_servers(
    browser: Browser, stack: Stack
) -> None:
    console, cluster_id = stack.console, stack.cluster_id
    base = f"/api/v2/ob/clusters/{cluster_id}"
    with client(console) as c:
        r = c.put(f"{base}/parameters", json=[{"name": "net_thread_count", "value": 2}])
        assert r.status_code == 200, r.text
        zone_task = c.post(f"{base}/zones/zone2/restart", json={"minorFreeze": False}).json()["data"]["id"]
    assert wait_task(console, zone_task) == "SUCCESSFUL"

    w = open_page(browser, console)
    try:
        check_the_page(w, console, cluster_id)
    finally:
        w.context.close()


def check_the_page(w: Watched, console: Console, cluster_id: int) -> None:
    login(w, ("admin", ADMIN_PASSWORD))
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
