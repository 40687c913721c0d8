"""The console in Debian's Chromium, driven by Playwright: log in, clusters, a task's DAG turning green live,
subtask logs, retry from the page, what a viewer may do, CSRF, a 3 x 3 DAG, and a narrow screen.

Screenshots and the page-load figures go to test-artifacts/ (not committed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from obcp.engine import Context
from tests.web import steps
from tests.web.conftest import (
    ADMIN,
    DESKTOP,
    PHONE,
    VIEWER,
    Console,
    Watched,
    artifact,
    login,
    open_page,
    record_figure,
)

LIVE_TIMEOUT_MS = 30_000


def node_states(w: Watched) -> dict[str, str]:
    """The DAG as drawn: subtask id → the state its node shows."""
    states: dict[str, str] = w.page.evaluate(
        "() => Object.fromEntries(window.obcpConsole.cy.nodes('[sid]')"
        ".map(n => [n.data('sid'), n.data('status')]))"
    )
    return states


def wait_task_state(w: Watched, state: str, timeout: int = LIVE_TIMEOUT_MS) -> None:
    w.page.wait_for_selector(f"#task-status [data-state={state}]", timeout=timeout)


def subtask_row(w: Watched, name: str) -> Any:
    return w.page.locator("#subtasks tbody tr", has_text=name).first


def load_timing(w: Watched) -> dict[str, float]:
    timing: dict[str, float] = w.page.evaluate(
        """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const ready = performance.getEntriesByName('obcp-ready')[0];
            const bytes = performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, 0)
                + nav.transferSize;
            return {domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
                    loadMs: Math.round(nav.loadEventEnd), readyMs: Math.round(ready.startTime),
                    transferredKB: Math.round(bytes / 1024)};
        }"""
    )
    return timing


def test_login_shows_the_clusters_page_fast(browser: Browser, console: Console, pages: list[Watched]) -> None:
    w = open_page(browser, console)
    pages.append(w)
    w.page.goto("/")
    w.page.wait_for_url("**/login")
    w.page.fill("#username", "admin")
    w.page.fill("#password", "wrong-password")
    w.page.click("button[type=submit]")
    w.page.wait_for_selector("#login-error:not([hidden])")
    assert "Wrong user name or password" in w.page.inner_text("#login-error")
    w.errors.clear()  # the refused login's 401 is reported by Chromium as a failed resource load

    login(w)
    row = w.page.locator("#clusters tr[data-cluster=web1]")
    row.wait_for()
    text = row.inner_text()
    assert "RUNNING" in text and "zone1" in text and "zone2" in text and "127.0.0.11:2881" in text
    w.page.wait_for_function("() => !document.querySelector('#clusters .last-op').textContent.includes('…')")

    # The console's first load in this browser context (nothing cached) and a reload, from loopback:
    # navigation start to the first page drawn with its data (the clusters table).
    cold = load_timing(w)
    w.page.reload()
    w.page.wait_for_selector("body[data-ready='1'] #clusters tr[data-cluster=web1]")
    warm = load_timing(w)
    print(f"\nconsole load on loopback: first {json.dumps(cold)}, reload {json.dumps(warm)}")
    record_figure("console_load_first", cold)
    record_figure("console_load_reload", warm)
    assert cold["readyMs"] < 5000 and warm["readyMs"] < 5000, (cold, warm)
    w.page.screenshot(path=str(artifact("console-clusters-1280x800.png")))

    w.page.goto("/login")  # already logged in: straight to the console
    w.page.wait_for_selector("body[data-ready='1']")
    w.page.click("#logout")
    w.page.wait_for_url("**/login")
    assert not any(c["name"] == "obcp_session" for c in w.context.cookies())
    w.page.goto("/")
    w.page.wait_for_url("**/login")
    w.expect_no_errors()


def test_task_dag_updates_live_and_shows_a_subtask_log(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    context = Context(string_map={"gate": str(gate)}, list_map={"items": ["s1", "s2", "s3"]})
    task_id = console.submit(steps.live_template(), context, cluster_id=console.cluster["id"])
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/tasks/{task_id}")
    w.page.wait_for_selector("#dag canvas")
    w.page.wait_for_selector("#live[data-mode=sse]")
    # 1 root, 3 parallel instances in their group, a join and a last step: 6 nodes, 7 edges.
    counts = w.page.evaluate(
        "() => { const cy = window.obcpConsole.cy;"
        " return [cy.nodes('[sid]').length, cy.edges().length, cy.nodes('.group').length,"
        " cy.nodes('[sid]').filter(n => n.parent().length > 0).length]; }"
    )
    assert counts == [6, 7, 1, 3], counts
    w.page.wait_for_selector("#subtasks tr[data-state=RUNNING]")
    first = str(console.task(task_id)["subtasks"][0]["id"])
    assert node_states(w)[first] == "RUNNING"
    label = w.page.evaluate(f"() => window.obcpConsole.cy.$id('s{first}').data('label')")
    assert "RUNNING" in label, "a node must name its state, not only colour it"
    positions = w.page.evaluate("() => window.obcpConsole.cy.nodes('[sid]').map(n => n.position())")

    w.page.screenshot(path=str(artifact("console-task-dag-running.png")))
    # Open the running subtask: its log grows while it runs.
    subtask_row(w, "Gated step").click()
    w.page.wait_for_function(
        "() => (document.querySelector('#subtask-log') || {}).textContent?.includes('waiting for the gate')"
    )
    assert w.page.inner_text("#side-runs") == "1"

    gate.write_text("go")
    wait_task_state(w, "SUCCESSFUL")
    w.page.wait_for_function("() => document.querySelector('#subtask-log').textContent.includes('done')")
    assert set(node_states(w).values()) == {"SUCCESSFUL"}
    # Laid out once: the nodes did not move while their states changed.
    assert positions == w.page.evaluate("() => window.obcpConsole.cy.nodes('[sid]').map(n => n.position())")
    assert w.page.inner_text("#progress").startswith("6 of 6")
    w.page.screenshot(path=str(artifact("console-task-dag-finished.png")))
    w.expect_no_errors()


def test_polling_takes_over_when_the_event_stream_is_unavailable(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    task_id = console.submit(
        steps.live_template(), Context(string_map={"gate": str(gate)}, list_map={"items": ["a"]})
    )
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    # As behind a proxy that does not pass event streams: the stream is answered with a plain 502 page.
    w.page.route("**/events", lambda route: route.fulfill(status=502, body="bad gateway"))
    w.page.goto(f"/#/tasks/{task_id}")
    w.page.wait_for_selector("#live[data-mode=polling]")
    gate.write_text("go")
    wait_task_state(w, "SUCCESSFUL")
    assert set(node_states(w).values()) == {"SUCCESSFUL"}
    # Chromium reports the refused stream itself; nothing else may be reported.
    assert all("events" in e or "text/event-stream" in e for e in w.errors), w.errors


def test_a_failed_subtask_shows_its_error_and_retry_from_the_page_completes_the_task(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    fix = tmp_path / "fixed"
    task_id = console.submit(steps.failing_template(), Context(string_map={"fix": str(fix)}))
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/tasks/{task_id}")
    wait_task_state(w, "FAILED")
    assert w.page.is_visible("#task-retry") and w.page.is_visible("#task-rollback")
    subtask_row(w, "Start observer process").click()
    w.page.wait_for_selector("#side-error")
    assert "cannot start" in w.page.inner_text("#side-error")
    w.page.wait_for_function(
        "() => document.querySelector('#subtask-log').textContent.includes('exit code 1')"
    )
    assert w.page.is_visible("#subtask-retry") and w.page.is_visible("#subtask-skip")
    w.page.screenshot(path=str(artifact("console-task-failed.png")))

    fix.write_text("the port is free again")
    w.page.click("#subtask-retry")
    wait_task_state(w, "SUCCESSFUL")
    assert w.page.inner_text("#side-runs") == "2"
    assert not w.page.is_visible("#subtask-retry")
    w.expect_no_errors()


def test_cancel_and_skip_from_the_page(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    context = Context(string_map={"gate": str(gate)}, list_map={"items": ["a"]})
    task_id = console.submit(steps.live_template(), context)
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/tasks/{task_id}")
    w.page.wait_for_selector("#subtasks tr[data-state=RUNNING]")
    w.page.locator("#subtasks tr[data-state=RUNNING]").first.click()
    w.page.click("#subtask-cancel")
    wait_task_state(w, "FAILED")
    w.page.wait_for_selector("#subtask-skip")
    w.page.click("#subtask-skip")
    w.page.wait_for_selector("#task-status [data-state=RUNNING]")
    gate.write_text("go")
    wait_task_state(w, "SUCCESSFUL")
    first = console.task(task_id)["subtasks"][0]
    assert first["operation"] == "SKIP" and first["status"] == "SUCCESSFUL", first
    w.expect_no_errors()


def test_a_viewer_sees_no_actions_and_forged_calls_are_refused(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    task_id = console.submit(steps.failing_template(), Context(string_map={"fix": str(tmp_path / "never")}))
    w = open_page(browser, console)
    pages.append(w)
    login(w, VIEWER)
    w.page.goto(f"/#/clusters/{console.cluster['id']}")
    w.page.wait_for_selector("[data-zone=zone1]")
    assert w.page.locator("[data-action]").count() == 0
    w.page.goto(f"/#/tasks/{task_id}")
    wait_task_state(w, "FAILED")
    subtask_row(w, "Start observer process").click()
    w.page.wait_for_selector("#side-error")
    assert (
        w.page.locator("#task-retry, #task-rollback, #subtask-retry, #subtask-skip, #subtask-cancel").count()
        == 0
    )

    # The viewer's own page forging the calls the buttons would make: the cookie and token are valid, the
    # permission is missing.
    forged = w.page.evaluate(
        """async ([taskId, clusterId]) => {
            const token = document.cookie.match(/obcp_csrf=([^;]+)/)[1];
            const headers = {'X-CSRF-Token': token, 'X-Requested-With': 'x'};
            const post = (path) => fetch(path, {method: 'POST', credentials: 'same-origin', headers})
                .then(async r => [r.status, (await r.json()).error.code]);
            return [await post(`/api/v2/tasks/instances/${taskId}/retry`),
                    await post(`/api/v2/ob/clusters/${clusterId}/restart`)];
        }""",
        [task_id, console.cluster["id"]],
    )
    assert forged == [[403, 3100], [403, 3100]], forged
    assert console.task(task_id)["status"] == "FAILED"
    assert all("403" in e for e in w.errors), w.errors


def test_a_state_changing_call_without_the_csrf_token_is_refused(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    task_id = console.submit(steps.failing_template(), Context(string_map={"fix": str(tmp_path / "never")}))
    w = open_page(browser, console)
    pages.append(w)
    login(w, ADMIN)
    w.page.goto(f"/#/tasks/{task_id}")
    wait_task_state(w, "FAILED")
    answer = w.page.evaluate(
        """async (taskId) => {
            const r = await fetch(`/api/v2/tasks/instances/${taskId}/retry`,
                {method: 'POST', credentials: 'same-origin', headers: {'X-Requested-With': 'x'}});
            return [r.status, (await r.json()).error.code, r.headers.get('www-authenticate')];
        }""",
        task_id,
    )
    assert answer == [403, 3100, None]
    assert console.task(task_id)["status"] == "FAILED"


def test_a_dag_of_three_zones_by_three_servers_stays_readable(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    servers = {f"zone{z}.servers": [f"s{z}{i}" for i in range(1, 4)] for z in range(1, 4)}
    task_id = console.submit(
        steps.zones_template(3, 3), Context(list_map=servers), cluster_id=console.cluster["id"]
    )
    for name, viewport in (("1280x800", DESKTOP), ("390x844", PHONE)):
        w = open_page(browser, console, viewport)
        pages.append(w)
        login(w)
        w.page.goto(f"/#/tasks/{task_id}")
        wait_task_state(w, "SUCCESSFUL")
        # The zones come with the first event of the stream (the task JSON does not carry them).
        w.page.wait_for_function("() => window.obcpConsole.cy.nodes('.zone').length > 0")
        layout = w.page.evaluate(
            """() => {
                const cy = window.obcpConsole.cy, doc = document.documentElement;
                const boxes = cy.nodes('[sid]').map(n => n.renderedBoundingBox({includeLabels: false}));
                let overlaps = 0;
                for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                    const a = boxes[i], b = boxes[j];
                    if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
                }
                return {nodes: boxes.length, groups: cy.nodes('.group').length,
                        zones: cy.nodes('.zone').length,
                        inZones: cy.nodes('[sid]').filter(n => n.ancestors('.zone').length > 0).length,
                        overlaps, zoom: cy.zoom(),
                        overflow: doc.scrollWidth - doc.clientWidth};
            }"""
        )
        # 1 + 3 x (1 + 3 + 1 + 3 + 1 + 1) + 1 = 32 subtasks; a box per zone holding its 10 steps (Wait
        # nodes included), and in it a box for the stop and one for the start of its servers.
        assert layout["nodes"] == 32 and layout["zones"] == 3 and layout["groups"] == 9, layout
        assert layout["inZones"] == 30, layout
        assert layout["overlaps"] == 0, layout
        assert layout["overflow"] <= 0, layout
        print(f"\n3x3 DAG at {name}: zoom {layout['zoom']:.2f}")
        record_figure(f"dag_3x3_zoom_{name}", round(layout["zoom"], 3))
        w.page.locator(".dag-card").screenshot(path=str(artifact(f"console-dag-3x3-{name}.png")))
        w.page.screenshot(path=str(artifact(f"console-task-3x3-{name}-page.png")), full_page=True)
        w.expect_no_errors()


def test_narrow_screen_pages_fit(browser: Browser, console: Console, pages: list[Watched]) -> None:
    w = open_page(browser, console, PHONE)
    pages.append(w)
    login(w)
    for route, ready in (
        ("#/clusters", "#clusters"),
        (f"#/clusters/{console.cluster['id']}", "[data-zone=zone2]"),
        ("#/tasks", "#page-info"),
    ):
        w.page.goto(f"/{route}")
        w.page.wait_for_selector(ready)
        overflow = w.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (route, overflow)
    w.page.goto(f"/#/clusters/{console.cluster['id']}")
    w.page.wait_for_selector("[data-zone=zone2]")
    w.page.screenshot(path=str(artifact("console-cluster-390x844.png")))
    w.expect_no_errors()


def test_tasks_page_filters_and_pages(browser: Browser, console: Console, pages: list[Watched]) -> None:
    for _ in range(21):
        console.submit(steps.noop_like_template(), Context(), cluster_id=console.cluster["id"])
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto("/#/tasks")
    w.page.wait_for_selector("table.tasks")
    assert w.page.locator("table.tasks tbody tr").count() == 20
    w.page.click("#next")
    w.page.wait_for_url("**/#/tasks?page=2")
    w.page.wait_for_selector("#page-info:has-text('page 2')")
    assert w.page.locator("table.tasks tbody tr").count() >= 1
    w.page.fill("#f-name", "Console one-step")
    w.page.select_option("#f-status", "SUCCESSFUL")
    w.page.click(".filters button[type=submit]")
    w.page.wait_for_url("**/#/tasks?name=Console+one-step&status=SUCCESSFUL")
    w.page.wait_for_selector("#page-info:has-text('page 1')")
    names = w.page.locator("table.tasks tbody tr td:nth-child(2)").all_inner_texts()
    assert names and set(names) == {"Console one-step test"}
    w.page.locator("table.tasks tbody tr").first.click()
    w.page.wait_for_selector("#dag canvas")
    w.expect_no_errors()


def test_an_operation_is_confirmed_with_the_dry_run_answer(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/clusters/{console.cluster['id']}")
    w.page.click("[data-target=cluster][data-action=restart]")
    w.page.wait_for_selector("#confirm[open]")
    assert w.page.is_visible("#confirm-mode")
    # The dry run's DAG for the cluster's two zones, rolling; then the same in force mode.
    w.page.wait_for_selector("#preview-dag canvas")
    assert "ROLLING" in w.page.inner_text("#preview-summary")
    assert w.page.is_enabled("#confirm-ok")
    w.page.select_option("#confirm-mode", "FORCE")
    w.page.wait_for_selector("#preview-summary:has-text('FORCE')")
    assert w.page.is_enabled("#confirm-ok")
    # Unticking a zone asks again, for that zone only.
    w.page.uncheck("#confirm-options input[value=zone2]")
    w.page.wait_for_selector("#preview-summary:has-text('zone1'):not(:has-text('zone2'))")
    w.page.screenshot(path=str(artifact("console-confirm-restart.png")))
    w.page.click("#confirm-cancel")
    assert not w.page.is_visible("#confirm")
