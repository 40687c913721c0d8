"""`make demo`: obcp's main job from a fresh clone, end to end on real seekdb observers.

Starts the obcp server on SQLite in a fresh demo home, brings up a sandbox of 3 zones x 1 server, writes
rows into each observer, restarts the cluster (rolling) through the HTTP API while following the task,
prints the outcome and stops everything it started, by pid, also on Ctrl-C or failure.

Environment: OBCP_DEMO_HOME (default `var/demo`), OBCP_DEMO_PORT (default 8080, or a free port if 8080
is taken).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pymysql

from obcp.agent.config import SeekdbPackageMissing, bundled_seekdb_binary
from obcp.agent.ports import free_port
from obcp.agent.process_record import live_process
from obcp.cli.client import ApiClient
from obcp.cli.tasks import watch_task
from obcp.sandbox.down import sandbox_down, sandbox_status
from obcp.sandbox.server_process import start_server, stop_process, wait_answering
from obcp.sandbox.state import STATE_FILE, load_secrets, load_state
from obcp.sandbox.up import ServerApiSettings
from obcp.sandbox.up_with_retries import up_with_retries

DEMO_PASSWORD = "obcp-demo-admin"
ZONES = 3
ROWS = 3
PID_FILE = "server.pid"
DEMO_FILES = {
    "obcp.db",
    "obcp.db-wal",
    "obcp.db-shm",
    "obcp.db-journal",
    "secret.key",
    "server.log",
    PID_FILE,
    "sandbox",
}
WRITE_ROWS = [
    "CREATE DATABASE IF NOT EXISTS demo",
    "CREATE TABLE IF NOT EXISTS demo.t (id INT PRIMARY KEY, note VARCHAR(64))",
    *(f"REPLACE INTO demo.t VALUES ({i}, 'written before the restart')" for i in range(ROWS)),
]


def say(line: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {line}", flush=True)


def sandbox_say(line: str) -> None:
    say(f"  sandbox: {line}")


def pick_port() -> int:
    wanted = os.environ.get("OBCP_DEMO_PORT")
    if wanted:
        return int(wanted)
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8080))
            return 8080
        except OSError:
            return free_port("127.0.0.1")


def clean_home(home: Path) -> None:
    """Stops what a previous demo left running (by recorded pids only), then wipes its home: a fresh
    metadb, so every demo starts from the same state (an old cluster of the same name would be reused as
    it is, docs/sandbox.md)."""
    # OBCP_DEMO_HOME may point anywhere: only a directory holding nothing but a demo's files is touched.
    foreign = sorted(p.name for p in home.iterdir() if p.name not in DEMO_FILES) if home.exists() else []
    if foreign:
        raise RuntimeError(f"{home} holds more than a demo's files ({', '.join(foreign[:5])}); not wiping it")
    if (home / "sandbox" / STATE_FILE).exists():
        say("a previous demo's sandbox is still there: stopping and purging it")
        asyncio.run(sandbox_down(home / "sandbox", True, sandbox_say))
    with contextlib.suppress(OSError, ValueError, KeyError, psutil.Error):
        record = json.loads((home / PID_FILE).read_text())
        old = live_process(record["pid"], record["createTime"])
        if old is not None:
            say(f"stopping a previous demo's obcp server (pid {old.pid})")
            old.terminate()
            old.wait(15)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)


@contextlib.contextmanager
def obcp_server(home: Path, port: int) -> Iterator[str]:
    server = start_server(home, port, {"OBCP_ADMIN_PASSWORD": DEMO_PASSWORD})
    record = {"pid": server.proc.pid, "createTime": psutil.Process(server.proc.pid).create_time()}
    (home / PID_FILE).write_text(json.dumps(record))
    say(f"obcp server pid {server.proc.pid} starting on 127.0.0.1:{port} (log: {server.log_path})")
    try:
        wait_answering(server)
        say(f"obcp server ready at {server.url} (admin / {DEMO_PASSWORD}, demo only)")
        yield server.url
    finally:
        stop_process(server.proc)
        (home / PID_FILE).unlink(missing_ok=True)
        say(f"obcp server pid {server.proc.pid} stopped")


def sql(address: str, port: int, password: str, *statements: str) -> tuple[object, ...] | None:
    """Runs the statements in one session; returns the last one's first row."""
    conn = pymysql.connect(host=address, port=port, user="root", password=password,
                           connect_timeout=5, read_timeout=30, autocommit=True)  # fmt: skip
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchone()
    finally:
        conn.close()


def observers(root: Path) -> list[tuple[str, str, int]]:
    state = load_state(root)
    assert state is not None
    return [(s.observer_name, s.address, s.sql_port) for s in state.servers]


def snapshot(root: Path, password: str) -> dict[str, tuple[int, int]]:
    """Per observer: START_SERVICE_TIME (µs; a new value proves a restart) and the demo's row count."""
    result: dict[str, tuple[int, int]] = {}
    for name, address, port in observers(root):
        stamp = sql(address, port, password, "SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT")
        rows = sql(address, port, password, "SELECT COUNT(*) FROM demo.t")
        assert stamp is not None and rows is not None
        result[name] = (int(str(stamp[0])), int(str(rows[0])))
    return result


def run_demo(home: Path, port: int) -> bool:
    root = home / "sandbox"
    with obcp_server(home, port) as url:
        try:
            say(f"bringing up a sandbox of {ZONES} zones x 1 server: real seekdb observers (10-30 s)")
            api = ServerApiSettings(url, "admin", DEMO_PASSWORD)
            up = asyncio.run(up_with_retries(root, ZONES, 1, "demo", api, sandbox_say))
            cluster_id = up.state.cluster_id
            say(f"sandbox ready in {up.seconds:.1f} s: cluster 'demo' id {cluster_id}")
            password = load_secrets(root).root_password
            for name, address, sql_port in observers(root):
                sql(address, sql_port, password, *WRITE_ROWS)
                say(f"  wrote {ROWS} rows into demo.t on {name} ({address}:{sql_port})")
            before = snapshot(root, password)
            return restart(url, root, password, cluster_id, before)
        finally:
            report_pids(root)
            say("stopping the sandbox (down --purge)")
            asyncio.run(sandbox_down(root, True, sandbox_say))


def restart(
    url: str, root: Path, password: str, cluster_id: int | None, before: dict[str, tuple[int, int]]
) -> bool:
    client = ApiClient(url, "admin", DEMO_PASSWORD)
    say(f'POST /api/v2/ob/clusters/{cluster_id}/restart {{"restartMode": "ROLLING"}}')
    t0 = time.monotonic()
    task = client.call("POST", f"/api/v2/ob/clusters/{cluster_id}/restart", json={"restartMode": "ROLLING"})
    say(f"task {task['id']}: {task['name']}, {len(task['tasks'])} subtasks; following it:")
    status = watch_task(client, int(task["id"]))
    seconds = time.monotonic() - t0
    cluster = client.call("GET", f"/api/v2/ob/clusters/{cluster_id}")
    after = snapshot(root, password)

    print(flush=True)
    say(f"outcome: task {task['id']} {status} in {seconds:.1f} s; cluster status {cluster['status']}")
    restarted = True
    for name, (stamp, rows) in before.items():
        new_stamp, new_rows = after[name]
        ok = new_stamp != stamp and new_rows == rows
        restarted = restarted and ok
        proof = "restarted" if new_stamp != stamp else "NOT restarted"
        say(f"  {name}: START_SERVICE_TIME {stamp} -> {new_stamp} ({proof}); rows {rows} -> {new_rows}")
    figure = ((cluster.get("lastOperation") or {}).get("availability")) or {}
    outage = figure.get("longestOutageSeconds")
    rounds, every = figure.get("probeRounds"), figure.get("probeIntervalMillis")
    say(f"  longest interval with no observer answering SQL: {outage} s ({rounds} probe rounds, {every} ms)")
    return status == "SUCCESSFUL" and restarted


def report_pids(root: Path) -> None:
    """The pids about to be stopped, so a caller can check that none remains."""
    if load_state(root) is None:
        return
    with contextlib.suppress(Exception):
        report = asyncio.run(sandbox_status(root))
        pids = [str(s[k]) for s in report["servers"] for k in ("agentPid", "observerPid") if s.get(k)]
        say(f"sandbox pids (agents and observers): {' '.join(pids)}")


def main() -> int:
    home = Path(os.environ.get("OBCP_DEMO_HOME", "var/demo")).resolve()
    try:
        bundled_seekdb_binary()
    except SeekdbPackageMissing:
        say(f"FAILED: {SeekdbPackageMissing('the demo', '')}")
        return 2
    try:
        clean_home(home)
        ok = run_demo(home, pick_port())
    except KeyboardInterrupt:
        say("interrupted; everything the demo started is stopped")
        return 130
    except Exception as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        return 1
    say("demo done: restart SUCCESSFUL, every observer restarted, rows intact" if ok else "demo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
