"""The console read at a glance, in Debian's Chromium: health and task colours, subtasks that name their
server and zone, zone groups, a large DAG folded and unfolded, the restart timeline, the outcome of a task.

Tasks come from the test templates of tests/web/steps.py (no observer runs): their steps carry the zone and
fan out over the `<clusterId>.<zone>.server_ids` lists of registered servers, as a real restart does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from obcp.engine import Context
from tests.web import steps
from tests.web.conftest import Console, Watched, artifact, login, open_page, record_figure
from tests.web.test_palette import AA_SMALL_TEXT

LIVE_TIMEOUT_MS = 30_000


def _rgb_hex(css_colour: str) -> str:
    """'rgb(1, 2, 3)' → '#010203'."""
    parts = css_colour[css_colour.index("(") + 1 : css_colour.index(")")].split(",")
    return "#" + "".join(f"{int(float(p)):02x}" for p in parts[:3])


def _badge_colours(w: Watched, selector: str) -> dict[str, Any]:
    look: dict[str, Any] = w.page.eval_on_selector(
        selector,
        "e => { const s = getComputedStyle(e), b = getComputedStyle(e, '::before');"
        " return {fg: s.color, bg: s.backgroundColor, text: e.textContent, mark: b.content}; }",
    )
    return look


def test_health_and_task_states_have_colours_of_their_own(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    from tests.web.test_palette import contrast

    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.wait_for_selector("#clusters .server-line .health")
    healthy = _badge_colours(w, "#clusters .server-line .health")
    assert (
        healthy["text"] == "RUNNING"
        and w.page.get_attribute("#clusters .server-line .health", "data-health") == "ok"
    )
    # What a RESTARTING zone, an UNAVAILABLE server, a running and a failed task look like on this page.
    w.page.evaluate(
        """async () => {
            const dom = await import('/static/console/dom.js');
            const box = document.createElement('div');
            box.id = 'samples';
            box.append(dom.healthBadge('RESTARTING'), dom.healthBadge('UNAVAILABLE'),
                       dom.stateBadge('RUNNING'), dom.stateBadge('FAILED'), dom.stateBadge('SUCCESSFUL'));
            document.querySelector('main').append(box);
        }"""
    )
    restarting = _badge_colours(w, "#samples [data-status=RESTARTING]")
    unavailable = _badge_colours(w, "#samples [data-status=UNAVAILABLE]")
    running = _badge_colours(w, "#samples [data-state=RUNNING]")
    failed = _badge_colours(w, "#samples [data-state=FAILED]")
    done = _badge_colours(w, "#samples [data-state=SUCCESSFUL]")
    # Healthy is green, never the in-progress blue of a running task; in progress is one hue for both.
    assert healthy["bg"] != running["bg"] and healthy["mark"] != running["mark"]
    assert _rgb_hex(healthy["fg"]) == _rgb_hex(done["bg"])
    assert _rgb_hex(restarting["fg"]) == _rgb_hex(running["bg"])
    assert _rgb_hex(unavailable["fg"]) == _rgb_hex(failed["bg"])
    for look in (healthy, restarting, unavailable, running, failed, done):
        assert look["mark"] not in ("none", "normal", '""'), look  # a mark besides the colour
        assert contrast(_rgb_hex(look["fg"]), _rgb_hex(look["bg"])) >= AA_SMALL_TEXT, look
    w.expect_no_errors()


def test_dag_nodes_meet_aa_contrast(browser: Browser, console: Console, pages: list[Watched]) -> None:
    from tests.web.test_palette import contrast

    task_id = console.submit(steps.failing_template(), Context(string_map={"fix": "/nonexistent/never"}))
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    w.page.goto(f"/#/tasks/{task_id}")
    w.page.wait_for_selector("#task-status [data-state=FAILED]", timeout=LIVE_TIMEOUT_MS)
    looks: list[dict[str, str]] = w.page.evaluate(
        "() => window.obcpConsole.cy.nodes('[sid]').map(n => ({state: n.data('status'),"
        " fg: n.style('color'), bg: n.style('background-color')}))"
    )
    assert {x["state"] for x in looks} >= {"SUCCESSFUL", "FAILED"}, looks
    for look in looks:
        assert contrast(_rgb_hex(look["fg"]), _rgb_hex(look["bg"])) >= AA_SMALL_TEXT, look
    w.expect_no_errors()


def _cluster(console: Console, name: str, base: str, zones: int, servers: int) -> dict[str, Any]:
    """A cluster of records only (no agent is contacted): `zones` zones of `servers` hosts each."""
    from tests.api.ocp import register_host, takeover
    from tests.web.conftest import ADMIN

    with console.client() as c:
        layout = {
            f"zone{z}": [register_host(c, ADMIN, f"{base}.{z}.{i}") for i in range(1, servers + 1)]
            for z in range(1, zones + 1)
        }
        return takeover(c, ADMIN, name, layout)


def _restart_context(cluster: dict[str, Any], **strings: str) -> Context:
    """The server lists a restart fans out over, `<clusterId>.<zone>.server_ids`, from the cluster itself."""
    with_servers: dict[str, list[str]] = {}
    for zone in cluster["zones"]:
        key = f"{cluster['id']}.{zone['name']}.server_ids"
        with_servers[key] = [str(s["id"]) for s in zone["servers"]]
    return Context(string_map={"step_ms": "30", **strings}, list_map=with_servers)


def _zones(cluster: dict[str, Any]) -> list[str]:
    return [z["name"] for z in cluster["zones"]]


def _open_task(w: Watched, task_id: int, state: str | None = None) -> None:
    w.page.goto(f"/#/tasks/{task_id}")
    w.page.wait_for_selector("#live[data-mode=sse]")
    if state:
        w.page.wait_for_selector(f"#task-status [data-state={state}]", timeout=LIVE_TIMEOUT_MS)


def _tap(w: Watched, node_id: str) -> None:
    # The braces matter: emit() answers its collection, and Playwright would copy whatever is returned,
    # through the whole cytoscape core reachable from it (gigabytes of heap for a 3 × 10 restart).
    w.page.evaluate("id => { window.obcpConsole.cy.$id(id).emit('tap'); }", node_id)


def _drawn(w: Watched) -> dict[str, Any]:
    drawn: dict[str, Any] = w.page.evaluate(
        """() => { const cy = window.obcpConsole.cy;
            return {subtasks: cy.nodes('[sid]').length, folded: cy.nodes('[fold]').map(n => n.id()),
                    labels: cy.nodes('[w]').map(n => n.data('label')), zoom: cy.zoom(),
                    cropped: document.querySelector('#dag').dataset.cropped}; }"""
    )
    return drawn


def test_subtasks_name_their_server_and_zone_in_graph_list_and_panel(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    cluster = _cluster(console, "glance3x2", "127.2", 3, 2)
    task_id = console.submit(
        steps.restart_like_template(cluster["id"], _zones(cluster), rolling=False),
        _restart_context(cluster),
        cluster_id=cluster["id"],
    )
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    _open_task(w, task_id, "SUCCESSFUL")
    done = console.task(task_id)
    print("\n3 x 2 force restart-like task took", done["startTime"], done["finishTime"])
    assert len(done["subtasks"]) == 68
    # Finished and large: every zone one node with its progress, which opens on a tap.
    w.page.wait_for_function("() => window.obcpConsole.cy.nodes('[fold]').length === 3")
    drawn = _drawn(w)
    assert sorted(drawn["folded"]) == ["z:zone1", "z:zone2", "z:zone3"], drawn
    zone2 = "zone2 · 21/21\nSUCCESSFUL · ✓ 21"
    assert any(label.startswith(zone2) for label in drawn["labels"]), drawn["labels"]
    assert drawn["cropped"] == "0", "a task opens fitted to its whole DAG"
    _tap(w, "z:zone2")
    w.page.wait_for_function("() => window.obcpConsole.cy.nodes('[sid]').length > 5")
    labels = _drawn(w)["labels"]
    assert sum("127.2.2.1:2881" in label for label in labels) == 7, labels  # its 7 per-server steps
    assert not any("127.2.1.1:2881" in label for label in labels), "zone1 stays folded"

    # The list: a group per zone with its progress, folded once done; opened, each row names its server.
    groups = w.page.locator("#subtasks tr.zone-row").all_inner_texts()
    assert [" ".join(g.split()) for g in groups] == [
        "▸ Cluster · 5/5 ✓ 5",
        "▸ zone1 · 21/21 ✓ 21",
        "▸ zone2 · 21/21 ✓ 21",
        "▸ zone3 · 21/21 ✓ 21",
    ], groups
    assert w.page.locator("#subtasks tr[data-subtask]").count() == 0
    w.page.click("#subtasks tr.zone-row[data-zone=zone2] button")
    rows = w.page.locator("#subtasks tr[data-subtask]")
    assert rows.count() == 21
    stop = w.page.locator("#subtasks tr[data-subtask]", has_text="Stop observer process").first
    assert stop.locator("td.subject").inner_text() == "127.2.2.1:2881 (zone2)"
    zone_step = w.page.locator("#subtasks tr[data-subtask]", has_text="Prepare restart OB zone").first
    assert zone_step.locator("td.subject").inner_text() == "zone zone2"
    stop.click()
    assert w.page.inner_text("#side-title") == "Stop observer process · 127.2.2.1:2881"
    assert w.page.inner_text("#side-subject") == "127.2.2.1:2881 (zone2)"
    # OCP's own task route answers as before: no zone, no server.
    assert all("serverId" not in s and "zone" not in s for s in console.task(task_id)["subtasks"])
    w.expect_no_errors()


def _folded_label(w: Watched, node_id: str) -> str:
    label: str = w.page.evaluate("id => window.obcpConsole.cy.$id(id).data('label')", node_id)
    return label


def test_a_three_by_ten_restart_folds_zones_and_fan_outs(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    cluster = _cluster(console, "glance3x10", "127.3", 3, 10)
    task_id = console.submit(
        steps.restart_like_template(cluster["id"], _zones(cluster), rolling=False),
        _restart_context(cluster, step_ms="0"),
        cluster_id=cluster["id"],
    )
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    _open_task(w, task_id, "SUCCESSFUL")
    assert len(console.task(task_id)["subtasks"]) == 3 * (7 * 10 + 7) + 5
    w.page.wait_for_function("() => window.obcpConsole.cy.nodes('[fold]').length === 3")
    assert _folded_label(w, "z:zone2") == "zone2 · 77/77\nSUCCESSFUL · ✓ 77"
    assert _drawn(w)["cropped"] == "0"
    w.page.locator(".dag-card").screenshot(path=str(artifact("console-dag-3x10-folded.png")))

    _tap(w, "z:zone2")
    w.page.wait_for_function("() => window.obcpConsole.cy.nodes('[sid]').length > 0", polling=100)
    fan_outs = w.page.evaluate(
        "() => window.obcpConsole.cy.nodes('[fold = \"fanout\"]').map(n => n.data('label'))"
    )
    assert "Start observer process × 10\nSUCCESSFUL · ✓ 10" in fan_outs, fan_outs
    assert len(fan_outs) == 7, fan_outs
    layout = _layout(w)
    # Opened, the zone's chain is longer than the screen: drawn at a readable size, centred on the zone.
    assert layout["overlaps"] == 0 and layout["zoom"] >= 0.6 and layout["overflow"] <= 0, layout
    record_figure("dag_3x10_zone_open_zoom_1280x800", round(layout["zoom"], 3))
    w.page.screenshot(path=str(artifact("console-task-3x10-1280x800.png")))

    start = w.page.evaluate(
        "() => window.obcpConsole.cy.nodes('[fold = \"fanout\"]')"
        ".filter(n => n.data('label').startsWith('Start observer process')).id()"
    )
    _tap(w, start)
    w.page.wait_for_function(
        "() => window.obcpConsole.cy.nodes('[sid]')"
        ".filter(n => n.data('label').includes('127.3.2.10:2881')).length > 0",
        polling=100,
    )
    assert w.page.evaluate("() => window.obcpConsole.cy.nodes('[fold = \"fanout\"]').length") == 6
    # Tapping the opened fan-out's box folds it again.
    _tap(w, start)
    w.page.wait_for_function(
        "() => window.obcpConsole.cy.nodes('[fold = \"fanout\"]').length === 7", polling=100
    )
    w.expect_no_errors()


def _layout(w: Watched) -> dict[str, Any]:
    layout: dict[str, Any] = w.page.evaluate(
        """() => {
            const cy = window.obcpConsole.cy, doc = document.documentElement;
            const boxes = cy.nodes('[w]').map(n => n.renderedBoundingBox({includeLabels: false}));
            let overlaps = 0;
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i], b = boxes[j];
                if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
            }
            return {overlaps, zoom: cy.zoom(), cropped: document.querySelector('#dag').dataset.cropped,
                    overflow: doc.scrollWidth - doc.clientWidth};
        }"""
    )
    return layout


def _down_width(w: Watched, server_id: int) -> float:
    width: float = w.page.evaluate(
        f"() => Number(document.querySelector('#timeline-svg rect.down[data-server=\"{server_id}\"]')"
        "?.getAttribute('width') || 0)"
    )
    return width


def test_restart_timeline_live_failure_retry_and_finished(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    cluster = _cluster(console, "glance3x2t", "127.4", 3, 2)
    gate, fix = tmp_path / "gate", tmp_path / "fix"
    context = _restart_context(
        cluster,
        step_ms="60",
        gate=str(gate),
        hold="Wait observer accessible|zone1",
        fix=str(fix),
        fail="Start observer process|zone2|1",
    )
    task_id = console.submit(
        steps.restart_like_template(cluster["id"], _zones(cluster), rolling=True),
        context,
        cluster_id=cluster["id"],
    )
    _stand_in_availability(console, task_id, cluster["id"])
    zone1 = [s["id"] for s in cluster["zones"][0]["servers"]]
    w = open_page(browser, console)
    pages.append(w)
    login(w)
    _open_task(w, task_id)
    # Live: zone1's observers were stopped and wait to answer again; their down windows grow.
    w.page.wait_for_selector("#timeline-svg rect.down.open", timeout=LIVE_TIMEOUT_MS)
    first = _down_width(w, zone1[0])
    w.page.wait_for_function(
        f"() => Number(document.querySelector('#timeline-svg rect.down[data-server=\"{zone1[0]}\"]')"
        f".getAttribute('width')) > {first} + 5",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert w.page.locator("#timeline-svg g.server-row").count() == 6
    title = w.page.inner_html(f"#timeline-svg rect.down[data-server='{zone1[0]}'] title")
    assert "127.4.1.1:2881: stop sent" in title and "not answering yet" in title, title
    # The running zone is drawn open, the others folded with their progress.
    w.page.wait_for_function("() => window.obcpConsole.cy.nodes('[fold]').length === 2", polling=100)
    assert _folded_label(w, "z:zone2").startswith("zone2 · 0/21")
    w.page.screenshot(path=str(artifact("console-restart-3x2-running.png")))

    gate.write_text("go")
    _wait_state(w, "FAILED")
    w.page.wait_for_selector("#outcome-failure")
    text = w.page.inner_text("#outcome-failure")
    assert "Start observer process on 127.4.2.2:2881 (zone2) failed" in text, text
    assert "cannot start: exit code 1" in w.page.inner_text("#outcome-error")
    assert w.page.is_visible("#outcome-retry") and w.page.is_visible("#outcome-skip")
    # The failed subtask opened by itself, with its log.
    assert w.page.inner_text("#side-title") == "Start observer process · 127.4.2.2:2881"
    w.page.wait_for_function(
        "() => document.querySelector('#subtask-log').textContent.includes('exit code 1')"
    )
    w.page.screenshot(path=str(artifact("console-restart-3x2-failed.png")))

    fix.write_text("the port is free again")
    # Dismissed, nothing happens; confirmed, the subtask runs again and the task completes.
    w.page.once("dialog", lambda d: d.dismiss())
    w.page.click("#outcome-retry")
    assert console.task(task_id)["status"] == "FAILED"
    w.page.once("dialog", lambda d: d.accept())
    w.page.click("#outcome-retry")
    _wait_state(w, "SUCCESSFUL")
    # Finished: every server answered again; the retried start is two bars, its failed run apart.
    w.page.wait_for_function("() => !document.querySelector('#timeline-svg rect.down.open')")
    retried = w.page.locator("#timeline-svg g.server-row", has=w.page.locator("text=127.4.2.2:2881"))
    runs = retried.locator("rect.run title").all_text_contents()
    starts = [r for r in runs if r.startswith("Start observer process")]
    assert len(starts) == 2 and "run 1, FAILED" in starts[0] and "run 2, SUCCESSFUL" in starts[1], runs
    totals = w.page.inner_text("#timeline-totals")
    assert totals.startswith("6 servers · down ") and " took " in totals, totals
    # The outcome: each server's START_SERVICE_TIME before → after.
    assert w.page.locator("#outcome-service-times tbody tr").count() == 6
    assert w.page.inner_text("#outcome-renewed").startswith("6 of 6 servers serve SQL as a new process")
    assert not w.page.is_visible("#outcome-failure")
    figure = w.page.inner_text("#outcome-availability")
    assert figure.startswith("Longest time with no observer answering: 0.0 s (40 probe rounds"), figure
    w.page.screenshot(path=str(artifact("console-restart-3x2-finished.png")))
    w.page.goto("/#/clusters")
    w.page.wait_for_selector("#clusters tr[data-cluster=glance3x2t] .outage")
    w.page.screenshot(path=str(artifact("console-clusters-health-1280x800.png")))
    w.expect_no_errors()


def _stand_in_availability(console: Console, task_id: int, cluster_id: int) -> None:
    """A stand-in for the availability monitor, which probes real observers (these steps start none): the
    row it would leave behind for a restart no client noticed."""
    import sqlalchemy as sa

    from obcp.meta.tables import operation_availability

    engine = sa.create_engine(f"sqlite:///{console.db_path}")
    now = int(time.time() * 1000)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(operation_availability).values(
                    task_id=task_id, cluster_id=cluster_id, observers=6, interval_ms=200, samples=40,
                    failed_samples=0, longest_outage_ms=0, outage_since=None, unobserved_ms=0,
                    started_at=now, updated_at=now, finished_at=now,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def _wait_state(w: Watched, state: str) -> None:
    w.page.wait_for_selector(f"#task-status [data-state={state}]", timeout=LIVE_TIMEOUT_MS)
