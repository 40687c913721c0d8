"""The console read at a glance, in Debian's Chromium: health and task colours, subtasks that name their
server and zone, zone groups, a large DAG folded and unfolded, the restart timeline, the outcome of a task.

Tasks come from the test templates of tests/web/steps.py (no observer runs): their steps carry the zone and
fan out over the `<clusterId>.<zone>.server_ids` lists of registered servers, as a real restart does.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser

from obcp.engine import Context
from tests.web import steps
from tests.web.conftest import Console, Watched, login, open_page
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
