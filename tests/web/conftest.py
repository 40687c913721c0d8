"""Fixtures of the console's browser tests: a real `obcp server` subprocess, Debian's Chromium driven by
Playwright over the DevTools protocol, and helpers that make tasks through the engine.

Chromium is installed with apt-get when /usr/bin/chromium is absent (CI runs as root on a fresh machine);
Playwright's own browser download does not work here, so Playwright connects to this Chromium instead. Both
the server and Chromium are started here and stopped by their pids.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from obcp.agent.ports import free_port
from obcp.engine import Context, Engine, Template
from obcp.meta.db import Database
from obcp.sandbox.server_process import start_server, stop_process, wait_answering
from tests.api.ocp import ok, register_host, takeover

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ADMIN_PASSWORD = "Console_admin_pw_1"
ADMIN = ("admin", ADMIN_PASSWORD)
VIEWER = ("viewer1", "Viewer_pw_12345")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def ensure_chromium() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.geteuid() != 0:
        pytest.skip("Debian chromium is not installed and only root can apt-get install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    assert CHROMIUM.exists(), "apt-get installed chromium but /usr/bin/chromium is missing"
    return str(CHROMIUM)


@dataclass
class Console:
    """The obcp server under test, its metadb, and the cluster registered in it."""

    url: str
    home: Path
    db_path: Path
    cluster: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.db_path}"

    def client(self, auth: tuple[str, str] | None = ADMIN) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)

    def submit(
        self, template: Template, context: Context | None = None, cluster_id: int | None = None
    ) -> int:
        """A task made through the engine, straight into the metadb; the server's sweep picks it up."""

        async def go() -> int:
            db = Database(self.db_url)
            try:
                engine = Engine(db, "console-tests")
                return await engine.submit(template, context, creator="admin", cluster_id=cluster_id)
            finally:
                await db.dispose()

        # In a thread of its own: Playwright's sync API keeps an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()

    def task(self, task_id: int) -> dict[str, Any]:
        with self.client() as c:
            data: dict[str, Any] = ok(c.get(f"/api/v2/tasks/instances/{task_id}"))
        return data

    def has_route(self, method: str, path: str) -> bool:
        with self.client() as c:
            spec = c.get("/api/v2/openapi.json").json()
        return method.lower() in spec.get("paths", {}).get(path, {})


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-home")
    port = free_port()
    db_path = home / "obcp.db"
    env = {
        "OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OBCP_ENGINE_MODULES": "tests.web.steps",
        "OBCP_ENGINE_SWEEP_SECONDS": "0.3",
        "OBCP_ENGINE_LOG_FLUSH_SECONDS": "0.2",
        "PYTHONPATH": str(ROOT),
    }
    started = start_server(home, port, env, args=["--db-url", f"sqlite:///{db_path}"], cwd=ROOT)
    server = Console(started.url, home, db_path)
    try:
        wait_answering(started, timeout=60)
        with server.client() as c:
            # Records only: registering a host and taking over a cluster contact no agent.
            h1 = register_host(c, ADMIN, "127.0.0.11")
            h2 = register_host(c, ADMIN, "127.0.0.12")
            server.cluster = takeover(c, ADMIN, "web1", {"zone1": [h1], "zone2": [h2]})
            ok(
                c.post(
                    "/api/v2/iam/users",
                    json={
                        "username": VIEWER[0],
                        "password": VIEWER[1],
                        "roles": ["CLUSTER_VIEWER", "TASK_VIEWER"],
                    },
                )
            )
        yield server
    finally:
        stop_process(started.proc, grace=15)
        # The server log must never hold a password or a session id.
        text = started.log()
        assert ADMIN_PASSWORD not in text and VIEWER[1] not in text


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(
    chromium: str, playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = (profile.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Chromium writes the port it picked into its profile: no port race, no log parsing.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and active.read_text().strip()):
            assert proc.poll() is None, f"chromium exited with {proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(active.read_text().split()[0])
        browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        try:
            yield browser
        finally:
            browser.close()
    finally:
        stop_process(proc, grace=10)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Watched:
    """A page with what its console and script errors said."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)

    def expect_no_errors(self) -> None:
        assert self.errors == [], "the browser console reported errors:\n" + "\n".join(self.errors)


def open_page(browser: Browser, console: Console, viewport: dict[str, int] = DESKTOP) -> Watched:
    context = browser.new_context(viewport=viewport, base_url=console.url)  # type: ignore[arg-type]
    page = context.new_page()
    watched = Watched(page, context)

    def on_console(msg: ConsoleMessage) -> None:
        # Warnings count too: cytoscape reports invalid styles and layout problems as warnings.
        if msg.type in ("error", "warning"):
            watched.errors.append(f"{msg.type}: {msg.text} @ {msg.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
    return watched


@pytest.fixture
def pages(browser: Browser, console: Console) -> Iterator[list[Watched]]:
    """Opened pages of a test (each in its own browser context, so cookies do not mix), closed after it."""
    opened: list[Watched] = []
    yield opened
    for w in opened:
        w.context.close()


def login(w: Watched, user: tuple[str, str] = ADMIN) -> None:
    w.page.goto("/")
    w.page.wait_for_url("**/login")
    w.page.fill("#username", user[0])
    w.page.fill("#password", user[1])
    w.page.click("button[type=submit]")
    w.page.wait_for_selector("body[data-ready='1']")


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def record_figure(key: str, value: Any) -> None:
    """Figures a reader of the test run wants (page load times), kept beside the screenshots."""
    path = artifact("console-figures.json")
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[key] = value
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
