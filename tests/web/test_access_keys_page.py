"""The Personal settings page in Chromium: create an access key (its secret shown once, copied, downloaded
as CSV), sign a request with it, disable, enable and delete it; the secret is never shown again."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.support.ak_signer import Signer
from tests.web.conftest import ADMIN, VIEWER, Console, Watched, login, open_page


def signed_get(console: Console, key: Signer, path: str) -> httpx.Response:
    with httpx.Client(base_url=console.url, timeout=30) as c:
        return c.get(path, headers=key.headers("GET", path))


def test_create_copy_download_disable_enable_delete(
    browser: Browser, console: Console, pages: list[Watched], tmp_path: Path
) -> None:
    w = open_page(browser, console)
    pages.append(w)
    w.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    login(w, ADMIN)
    w.page.click("#who")
    w.page.wait_for_selector("#create-key")
    w.page.fill("#key-description", "from the browser")
    w.page.click("#create-key")
    w.page.wait_for_selector("#new-key")
    key_id = w.page.text_content("#new-key-id") or ""
    secret = w.page.text_content("#new-key-secret") or ""
    assert key_id.startswith("AK") and len(secret) >= 32
    row = w.page.locator(f"#access-keys tr[data-key={key_id}]")
    assert "from the browser" in row.inner_text() and "ACTIVE" in row.inner_text()

    w.page.click("#copy-key")
    w.page.wait_for_selector("#copy-note:has-text('copied')")
    assert w.page.evaluate("navigator.clipboard.readText()") == f"{key_id}\n{secret}"
    with w.page.expect_download() as download_info:
        w.page.click("#download-key")
    saved = tmp_path / "key.csv"
    download_info.value.save_as(saved)
    assert download_info.value.suggested_filename == f"AccessKey-{key_id}.csv"
    assert saved.read_text() == f'AccessKeyId,AccessKeySecret\n"{key_id}","{secret}"\n'

    key = Signer(key_id, secret, console.url.removeprefix("http://"))
    assert signed_get(console, key, "/api/v2/ob/clusters").status_code == 200
    w.page.click("#close-key")
    assert w.page.locator("#new-key").count() == 0
    assert secret not in w.page.content()

    row.locator("[data-act=disable]").click()
    w.page.wait_for_selector(f"#access-keys tr[data-key={key_id}] [data-state=DISABLED]")
    assert signed_get(console, key, "/api/v2/ob/clusters").status_code == 401
    row.locator("[data-act=enable]").click()
    w.page.wait_for_selector(f"#access-keys tr[data-key={key_id}] [data-state=ACTIVE]")
    assert signed_get(console, key, "/api/v2/ob/clusters").status_code == 200
    # Reloaded, the page lists the key without its secret.
    w.page.reload()
    w.page.wait_for_selector(f"#access-keys tr[data-key={key_id}]")
    assert secret not in w.page.content()

    w.page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-act=delete]").click()
    w.page.wait_for_selector(f"#access-keys tr[data-key={key_id}]", state="detached")
    assert signed_get(console, key, "/api/v2/ob/clusters").status_code == 401
    w.expect_no_errors()


def test_the_sixth_key_cannot_be_created_from_the_page(
    browser: Browser, console: Console, pages: list[Watched]
) -> None:
    w = open_page(browser, console)
    pages.append(w)
    login(w, VIEWER)
    with console.client(VIEWER) as c:
        for _ in range(4):
            assert c.post("/api/v2/profiles/me/accessKeys", json={}).status_code == 200
    w.page.goto("/#/profile")
    w.page.wait_for_selector("#access-keys")
    w.page.click("#create-key")
    w.page.wait_for_selector("#new-key")
    w.page.wait_for_function("() => document.querySelector('#create-key').disabled")
    assert w.page.locator("#access-keys tbody tr").count() == 5
    assert "at most 5" in (w.page.get_attribute("#create-key", "title") or "")
    w.expect_no_errors()
