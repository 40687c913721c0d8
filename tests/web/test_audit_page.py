"""The audit page in Chromium (filters in the hash, one row per event, the refused login with its code), who
sees it, and `obcp audit list` against the same real server (tables by default, -o json)."""

from __future__ import annotations

import json
import os
import uuid

from playwright.sync_api import Browser
from typer.testing import CliRunner, Result

from obcp.cli.main import app
from tests.api.ocp import ok
from tests.web.conftest import ADMIN, VIEWER, Console, Watched, login, open_page


def cli(console: Console, user: tuple[str, str], *args: str) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBCP_")}
    env.update(OBCP_URL=console.url, OBCP_USER=user[0], OBCP_PASSWORD=user[1])
    return CliRunner().invoke(app, list(args), env=env)


def test_the_audit_page_and_the_cli(browser: Browser, console: Console, pages: list[Watched]) -> None:
    role = "R_" + uuid.uuid4().hex[:8].upper()
    with console.client() as c:
        role_id = ok(c.post("/api/v2/iam/roles", json={"name": role, "permissions": ["TASK:*:READ"]}))["id"]
    with console.client(("admin", "not-the-password")) as c:
        assert c.get("/api/v2/ob/clusters").status_code == 401
    w = open_page(browser, console)
    pages.append(w)
    login(w, ADMIN)
    assert w.page.locator("[data-nav=audit]").is_visible()
    w.page.click("[data-nav=audit]")
    w.page.wait_for_selector("#audit-events")
    w.page.fill("#a-action", "ROLE_CREATE")
    w.page.click("#audit-filters button[type=submit]")
    w.page.wait_for_url("**#/audit?action=ROLE_CREATE")
    # The filtered list replaces the whole one (which has ROLE_CREATE rows too): wait for it, not a row.
    w.page.wait_for_function(
        """() => {
            const rows = [...document.querySelectorAll("#audit-events tbody tr")];
            return rows.length > 0 && rows.every((r) => r.dataset.action === "ROLE_CREATE");
        }"""
    )
    rows = w.page.locator("#audit-events tbody tr")
    assert {rows.nth(i).get_attribute("data-action") for i in range(rows.count())} == {"ROLE_CREATE"}
    mine = w.page.locator("#audit-events tbody tr").first
    assert f"ROLE {role_id}" in mine.inner_text() and "admin" in mine.inner_text()
    mine.locator("details summary").click()  # the request as the server kept it
    assert f'"name": "{role}"' in mine.locator("pre").inner_text()
    # The refused Basic login: FAILED with OCP's code, the password nowhere on the page.
    w.page.goto(console.url + "/#/audit?action=LOGIN&result=FAILED")
    w.page.wait_for_selector("#audit-events [data-result=FAILED]")
    # (The console is shared with other tests: theirs may be listed too.)
    assert w.page.locator("#audit-events tbody tr", has_text="FAILED 3004").count() >= 1
    assert "not-the-password" not in w.page.content()
    assert w.page.input_value("#a-result") == "FAILED"
    w.expect_no_errors()

    viewer = open_page(browser, console)
    pages.append(viewer)
    login(viewer, VIEWER)
    assert not viewer.page.locator("[data-nav=audit]").is_visible()
    viewer.page.goto(console.url + "/#/audit")
    viewer.page.wait_for_selector("text=AUDIT:*:READ")

    table = cli(console, ADMIN, "audit", "list", "--action", "ROLE_CREATE", "--size", "100")
    assert table.exit_code == 0, table.output
    assert "ROLE_CREATE" in table.stdout and "admin" in table.stdout and "SUCCESS" in table.stdout
    raw = cli(console, ADMIN, "audit", "list", "--result", "FAILED", "--action", "LOGIN", "-o", "json")
    assert raw.exit_code == 0, raw.output
    data = json.loads(raw.stdout)
    refusals = {(e["action"], e["result"], e["errorCode"], e.get("userName")) for e in data["contents"]}
    assert ("LOGIN", "FAILED", 3004, "admin") in refusals, refusals
    assert {(a, r) for a, r, _, _ in refusals} == {("LOGIN", "FAILED")}, refusals
    refused = cli(console, VIEWER, "audit", "list")
    assert refused.exit_code == 2 and "3100" in refused.output
