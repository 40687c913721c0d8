"""The pages' scripts and styles over plain HTTP: ES modules served as JavaScript, nothing inline."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
from playwright.sync_api import Browser

from tests.web.conftest import Console, Watched, open_page
from tests.web.test_sessions import logged_in

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)
SRC = re.compile(r'\bsrc="([^"]+)"')
COMMENT = re.compile(r"<!--.*?-->", re.S)
IMPORT = re.compile(r'^\s*(?:import|export)\b[^"\']*?\bfrom\s+"([^"]+)"|^\s*import\s+"([^"]+)"', re.M)
OWN_MODULES = {"/": "/static/console.js", "/login": "/static/login.js", "/api/v2/docs": "/static/api-docs.js"}


def _pages(console: Console) -> dict[str, str]:
    # A logged-in browser is sent from /login to the console, so the login page is read without a session.
    with logged_in(console) as (client, _), httpx.Client(base_url=console.url, timeout=30) as anonymous:
        pages = {"/": client.get("/"), **{path: anonymous.get(path) for path in ("/login", "/api/v2/docs")}}
    assert all(resp.status_code == 200 for resp in pages.values()), pages
    return {path: COMMENT.sub("", resp.text) for path, resp in pages.items()}


def _imports(source: str) -> list[str]:
    return [a or b for a, b in IMPORT.findall(source)]


def test_pages_hold_no_inline_script_or_style(console: Console) -> None:
    for path, html in _pages(console).items():
        assert "<style" not in html and " style=" not in html, path
        for attrs, body in SCRIPT.findall(html):
            assert SRC.search(attrs) and not body.strip(), f"{path}: inline script {body[:80]!r}"


def test_each_page_loads_its_own_script_as_a_module(console: Console) -> None:
    for path, html in _pages(console).items():
        tags = [attrs for attrs, _ in SCRIPT.findall(html) if 'type="module"' in attrs]
        modules = [src.group(1) for attrs in tags if (src := SRC.search(attrs))]
        assert modules == [OWN_MODULES[path]], path


def test_every_module_and_what_it_imports_is_served_as_javascript(console: Console) -> None:
    # A browser refuses a module script served with any other type, so the console would stay blank.
    seen: set[str] = set()
    todo = list(OWN_MODULES.values())
    with httpx.Client(base_url=console.url, timeout=30) as anonymous:
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            resp = anonymous.get(path)
            assert resp.status_code == 200, path
            assert resp.headers["content-type"].split(";")[0] == "text/javascript", (path, resp.headers)
            todo += [urljoin(path, target) for target in _imports(resp.text)]
    assert "/static/console/api.js" in seen and "/static/console/pages/task.js" in seen, seen


def test_the_api_docs_page_lists_the_routes_from_its_module(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    w = open_page(browser, console)
    pages.append(w)
    w.page.goto("/api/v2/docs")
    w.page.wait_for_selector("details summary code")
    paths = w.page.locator("details summary code").all_text_contents()
    assert "/api/v2/tasks/instances" in paths and "/api/v2/ob/clusters" in paths, paths
    w.expect_no_errors()
