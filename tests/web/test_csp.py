"""The console under its Content-Security-Policy in Chromium: logging in and opening the clusters, a
cluster, the tasks, a task's DAG, the profile and the API's browsable page raise no CSP violation — no
`securitypolicyviolation` event in any page and no CSP message in the browser's console. A check that the
policy is really enforced (an inline script injected into the page is refused and reported) shows that the
collector sees a violation when one happens."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, ConsoleMessage

from obcp.api.security_headers import CONTENT_SECURITY_POLICY
from obcp.engine import Context
from tests.web import steps
from tests.web.conftest import Console, Watched, login, open_page

# Collects the violations of every document the page loads (added by Playwright over the DevTools
# protocol, so the policy does not apply to this script itself).
COLLECTOR = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def violations(w: Watched) -> list[str]:
    found: list[str] = w.page.evaluate("() => window.__csp || []")
    return found


def test_the_console_works_under_its_csp(browser: Browser, console: Console, pages: list[Watched]) -> None:
    context = Context(list_map={"items": ["s1", "s2"]})  # no gate: the task runs to its end
    task_id = console.submit(steps.live_template(), context, cluster_id=console.cluster["id"])
    w = open_page(browser, console)
    pages.append(w)
    messages: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        messages.append(f"{msg.type}: {msg.text}")

    w.page.on("console", on_console)
    w.page.add_init_script(COLLECTOR)
    seen: list[str] = []
    login(w)
    headers: dict[str, Any] = {}
    w.page.on("response", lambda r: headers.setdefault(r.url, r.headers))

    cluster_id = console.cluster["id"]
    for hash_, ready in (
        ("#/clusters", "#clusters tr[data-cluster=web1]"),
        (f"#/clusters/{cluster_id}", "#view h1, #view h2"),
        ("#/tasks", "#view table"),
        (f"#/tasks/{task_id}", "#dag canvas"),
        ("#/profile", "#create-key"),
    ):
        w.page.goto(f"/{hash_}")
        w.page.wait_for_selector(ready)
        seen += [f"{hash_}: {v}" for v in violations(w)]
    w.page.goto("/api/v2/docs")
    w.page.wait_for_selector("#root details")
    seen += [f"/api/v2/docs: {v}" for v in violations(w)]

    csp_messages = [m for m in messages if "Content Security Policy" in m or "Content-Security-Policy" in m]
    assert seen == [] and csp_messages == [], (seen, csp_messages)
    w.expect_no_errors()
    documents = [u for u, h in headers.items() if h.get("content-type", "").startswith("text/html")]
    assert documents, "no page was loaded"
    for url in documents:
        assert headers[url]["content-security-policy"] == CONTENT_SECURITY_POLICY, url

    # The collector would have seen one: an inline script and an inline style attribute are refused.
    w.page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inlineRan = true';
            document.body.append(s);
            document.body.insertAdjacentHTML('beforeend', '<p id="styled" style="color: red">x</p>');
        }"""
    )
    w.page.wait_for_function("() => window.__csp.length >= 2")
    assert w.page.evaluate("() => window.__inlineRan === undefined")
    refused = violations(w)
    assert any(v.startswith("script-src") for v in refused), refused
    assert any(v.startswith("style-src") for v in refused), refused
