"""The wheel as a user gets it: `uv build` makes it with the console's files and the migrations inside, a
fresh venv with `pip install obcp-*.whl` (the locked versions, without the sandbox extra) runs `obcp
server` — the API and the console's scripts — and `obcp agent`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from obcp.agent.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "obcp"
PYTHON = shutil.which("python3.11") or sys.executable
ADMIN_PASSWORD = "Wheel-Admin-Pw-4mQ8"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def uv_command() -> list[str]:
    """uv as the Makefile runs it (a module of the machine's Python), else the one on PATH."""
    if subprocess.run([PYTHON, "-m", "uv", "--version"], capture_output=True).returncode == 0:
        return [PYTHON, "-m", "uv"]
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (make setup installs it): the wheel cannot be built")
    return [found]


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result  # type: ignore[no-any-return]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBCP_", "VIRTUAL_ENV", "UV_"))}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": PYTHON, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    uv = uv_command()
    run([*uv, "build", "--wheel", "-o", str(tmp / "dist")], cwd=ROOT, env=clean_env())
    (wheel,) = (tmp / "dist").glob("obcp-*.whl")
    # The project's locked versions, not whatever PyPI has newest today.
    locked = run(
        [*uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--format", "requirements-txt"],
        cwd=ROOT,
        env=clean_env(),
    ).stdout
    (tmp / "constraints.txt").write_text(locked)
    venv = tmp / "venv"
    run([PYTHON, "-m", "venv", str(venv)])
    run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "-c", str(tmp / "constraints.txt"), str(wheel)],
        env=clean_env(),
    )  # fmt: skip
    yield wheel, venv


def test_the_wheel_holds_every_file_of_the_package(installed: tuple[Path, Path]) -> None:
    wheel, _venv = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert expected - names == set()
    for name in (
        "obcp/web/console.html",
        "obcp/web/static/console/router.js",
        "obcp/web/static/vendor/cytoscape.min.js",
        "obcp/meta/migrations/script.py.mako",
        "obcp/meta/migrations/env.py",
    ):
        assert name in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines() if "pylibseekdb" in line
    ]
    assert requires == ["Requires-Dist: pylibseekdb>=1.4.0.post1; extra == 'sandbox'"]


def test_obcp_agent_runs_from_the_venv_without_the_sandbox_extra(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _wheel, venv = installed
    obcp = str(venv / "bin" / "obcp")
    probe = "import importlib.util as u; print(u.find_spec('pylibseekdb'))"
    assert run([str(venv / "bin" / "python"), "-c", probe]).stdout.strip() == "None"
    help_text = run([obcp, "agent", "--help"], env=clean_env()).stdout
    assert "install" in help_text and "init-from-obd" in help_text
    sandbox = subprocess.run(
        [obcp, "sandbox", "up", "--no-register"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert sandbox.returncode == 2
    assert "pip install 'obcp[sandbox]'" in sandbox.stderr and "Traceback" not in sandbox.stderr


def test_obcp_server_runs_from_the_venv_and_serves_the_console(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _wheel, venv = installed
    port = free_port()
    env = clean_env(OBCP_HOME=str(tmp_path / "home"), OBCP_ADMIN_PASSWORD=ADMIN_PASSWORD)
    with (tmp_path / "out").open("wb") as out:
        # Run from an empty directory: nothing may come from the source tree.
        proc = subprocess.Popen(
            [str(venv / "bin" / "obcp"), "server", "--port", str(port)], cwd=tmp_path, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_answering(client, proc, tmp_path / "out")
            assert client.get("/api/status", auth=("admin", ADMIN_PASSWORD)).text == "okay"
            script = client.get("/static/console/router.js")
            assert script.status_code == 200 and "javascript" in script.headers["content-type"]
            assert script.text == (PACKAGE / "web" / "static" / "console" / "router.js").read_text()
            login = client.get("/login")
            assert login.status_code == 200 and "<html" in login.text.lower()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_answering(client: httpx.Client, proc: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, f"obcp server exited: {out.read_text()[-3000:]}"
        try:
            if client.get("/api/v2/time").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"obcp server did not answer: {out.read_text()[-3000:]}"
        time.sleep(0.3)
