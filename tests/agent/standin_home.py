"""Stand-in OceanBase home: the real seekdb binary as bin/observer, in OceanBase's layout.

seekdb started without `--nodaemon` daemonizes, uses its cwd as its base dir and writes `run/seekdb.pid`
and `log/seekdb.log` there (measured); the home's `run/observer.pid` and `log/observer.log` are symlinks to
those, so the agent reads the real files under OceanBase's names. seekdb keeps its configuration in store/
and writes no `etc/observer.config.bin`: the stand-in gets a placeholder, as the agent refuses a home
without one. The first initialisation is done here with seekdb's own options (obcp never bootstraps a
server of kind observer); later starts need no argument (`start_args = []`: seekdb has no `-p` and takes
its port from its store).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pymysql

from obcp.agent.config import DEFAULT_PARAMETERS, bundled_seekdb_binary

STANDIN_START_ARGS: list[str] = []
CONFIG_PLACEHOLDER = b"stand-in: seekdb keeps its configuration in store/, not here\n"


def build_standin_home(home: Path) -> None:
    """The layout, with bin/observer a hard link to (or, across file systems, a copy of) seekdb."""
    for sub in ("bin", "lib", "etc", "run", "log"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    binary = bundled_seekdb_binary()
    try:
        os.link(binary, home / "bin" / "observer")
    except OSError:
        shutil.copy2(binary, home / "bin" / "observer")
    (home / "run" / "observer.pid").symlink_to("seekdb.pid")
    (home / "log" / "observer.log").symlink_to("seekdb.log")


def initialise_standin_home(home: Path, sql_port: int, root_password: str, timeout: float = 60.0) -> None:
    """First start with seekdb's own options, root's password set, then stopped; leaves the placeholder
    `etc/observer.config.bin`."""
    argv = [str(home / "bin" / "observer"), "--port", str(sql_port), "--log-level", "WARN"]
    for key, value in DEFAULT_PARAMETERS.items():
        argv += ["--parameter", f"{key}={value}"]
    argv += ["--variable", "time_zone=+00:00"]
    env = {**os.environ, "TELEMETRY_ENABLED": "false"}
    subprocess.run(argv, cwd=home, env=env, check=True, stdout=subprocess.DEVNULL, timeout=30)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = pymysql.connect(
                host="127.0.0.1", port=sql_port, user="root", password="", connect_timeout=2
            )
            break
        except pymysql.MySQLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with conn.cursor() as cur:
        cur.execute("ALTER USER root IDENTIFIED BY %s", (root_password,))
    conn.close()
    kill_standin(home)
    (home / "etc" / "observer.config.bin").write_bytes(CONFIG_PLACEHOLDER)


def standin_pid(home: Path) -> int | None:
    """The pid of the seekdb running in the home, if any (checked as the agent checks it)."""
    try:
        proc = psutil.Process(int((home / "run" / "observer.pid").read_text().strip()))
        if proc.status() == psutil.STATUS_ZOMBIE or not os.path.samefile(proc.cwd(), home):
            return None
        if not os.path.samefile(f"/proc/{proc.pid}/exe", home / "bin" / "observer"):
            return None
        return proc.pid
    except (OSError, ValueError, psutil.Error):
        return None


def kill_standin(home: Path) -> None:
    pid = standin_pid(home)
    if pid is None:
        return
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        proc.kill()
        # Its parent is init, which reaps it late: a zombie is gone for our purposes.
        deadline = time.monotonic() + 10
        while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.02)


def standin_observer(name: str, home: Path, sql_port: int) -> dict[str, object]:
    """The agent config entry of a stand-in home."""
    return {
        "name": name,
        "kind": "observer",
        "home_path": str(home),
        "sql_port": sql_port,
        "start_args": STANDIN_START_ARGS,
    }
