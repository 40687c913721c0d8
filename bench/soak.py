"""Two replicas, continuously: rolling restarts back to back while the replicas are killed in turn.

Two `obcp server` replicas on one PostgreSQL database (a fresh one on OBCP_TEST_PG_URL, dropped after; or
--db-url), a sandbox of 3 zones x 1 real seekdb observer behind real agents, registered through replica A.
Then `--restarts` rolling restarts (POST /api/v2/ob/clusters/{id}/restart), one after another, each asked of
the live replica and followed to its end, while a killer SIGKILLs one replica every few seconds (seeded, the
two in turn) and starts it again. Meanwhile:

- a /proc watcher notes every seekdb process that runs on each observer's base directory: after N restarts
  each observer must have had exactly N + 1 processes (replaced exactly once per restart, never twice, never
  started beside itself);
- every API call (the restart, the task polls, a prober asking for the task every 0.2 s) goes to a replica
  that is up, and is counted: answers, and failures (a transport error or a status other than 200).

It prints the figures and a last line `SOAK-RESULT {json}`, and exits 0 only if every task ended SUCCESSFUL,
every observer was replaced exactly once per restart and no API call failed. The suite runs it with
`--restarts 2` (tests/e2e/test_soak.py); docs/benchmarks.md has the figures of a dozen.

    OBCP_SANDBOX_FIRST_SQL_PORT=... .venv/bin/python bench/soak.py [--restarts 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from _stack import ADMIN_PASSWORD, fresh_pg_database, sandbox
from obcp.agent.ports import free_port
from obcp.meta.db import sync_url
from obcp.meta.task_tables import subtask_instance
from obcp.sandbox.server_process import ServerProcess, start_server, stop_process, wait_answering

AUTH = ("admin", ADMIN_PASSWORD)
S = subtask_instance.c


@dataclass
class Replica:
    name: str
    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: ServerProcess | None = None
    up: bool = False
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_server(self.home, self.port, self.env)
        wait_answering(self.process, 60)
        self.up = True

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process.proc)


class LiveApi:
    """Every call goes to a replica that is up; the killer marks one down (under the same lock) before it
    kills it, so a failure counted here is a live replica that did not answer."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.lock = threading.Lock()
        self.answers: dict[str, int] = {r.name: 0 for r in replicas}
        self.failures: list[str] = []
        self.http = httpx.Client(auth=AUTH, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        with self.lock:
            replica = next(r for r in self.replicas if r.up)
            try:
                response = self.http.request(method, replica.url + path, json=body)
            except httpx.HTTPError as exc:
                self.failures.append(f"{replica.name} {method} {path}: {type(exc).__name__} {exc}")
                return None
            if response.status_code != 200:
                self.failures.append(
                    f"{replica.name} {method} {path}: {response.status_code} {response.text}"
                )
                return None
            self.answers[replica.name] += 1
            return response.json()["data"]


class ObserverWatcher(threading.Thread):
    """Notes, every 50 ms, each seekdb process whose command line names an observer's base directory (a
    process forked by an observer, if any, is its parent's, not a start of its own)."""

    def __init__(self, base_dirs: list[str]) -> None:
        super().__init__(daemon=True)
        self.pids: dict[str, dict[int, float]] = {os.path.realpath(d): {} for d in base_dirs}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.scan()
            self.stopping.wait(0.05)

    def scan(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if not argv[0].endswith(b"seekdb") or b"--base-dir" not in argv:
                continue
            seen = self.pids.get(os.path.realpath(argv[argv.index(b"--base-dir") + 1].decode()))
            if seen is not None and ppid not in seen:
                seen.setdefault(int(entry.name), time.monotonic())

    def processes(self) -> dict[str, list[int]]:
        return {Path(d).name: sorted(p) for d, p in self.pids.items()}

    def starts(self, windows: list[tuple[float, float]]) -> dict[str, list[int]]:
        """For each observer, in which restart each of its processes first appeared: 0 before the first,
        k during the k-th (from its request to its end), -1 between restarts."""

        def during(seen: float) -> int:
            if not windows or seen < windows[0][0]:
                return 0
            return next((k + 1 for k, (t0, t1) in enumerate(windows) if t0 <= seen <= t1), -1)

        return {Path(d).name: sorted(during(seen) for seen in p.values()) for d, p in self.pids.items()}


class Killer(threading.Thread):
    """Every few seconds (seeded), SIGKILLs the replicas in turn and starts the killed one again."""

    def __init__(self, api: LiveApi, seed: int, every: tuple[float, float]) -> None:
        super().__init__(daemon=True)
        self.api, self.rng, self.every = api, random.Random(seed), every
        self.stopping = threading.Event()
        self.downtimes: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        turn = 0
        while not self.stopping.wait(self.rng.uniform(*self.every)):
            victim = self.api.replicas[turn % len(self.api.replicas)]
            turn += 1
            with self.api.lock:
                victim.up = False
            t0 = time.monotonic()
            victim.kill()
            try:
                victim.start()
            except Exception as exc:  # a replica that does not come back ends the soak as a failure
                self.errors.append(f"{victim.name} did not start again: {exc}")
                return
            self.downtimes.append(time.monotonic() - t0)


class Prober(threading.Thread):
    def __init__(self, api: LiveApi) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.task_id: int | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            if self.task_id is not None:
                self.api.call("GET", f"/api/v2/tasks/instances/{self.task_id}")


def one_restart(
    api: LiveApi, prober: Prober, cluster_id: int, timeout: float
) -> tuple[str, tuple[float, float], int]:
    """(status, (start, end) on the monotonic clock, task id) of a rolling restart asked of the live replica
    and followed to its end."""
    t0 = time.monotonic()
    task = None
    while task is None:  # a failed call is counted; ask again
        task = api.call("POST", f"/api/v2/ob/clusters/{cluster_id}/restart", {"restartMode": "ROLLING"})
    prober.task_id = int(task["id"])
    status = "RUNNING"
    while status == "RUNNING" and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        answer = api.call("GET", f"/api/v2/tasks/instances/{task['id']}")
        status = answer["status"] if answer else status
    return status, (t0, time.monotonic()), int(task["id"])


def soak(db_url: str, work: Path, restarts: int, seed: int, every: tuple[float, float]) -> dict[str, Any]:
    env = {
        "OBCP_DB_URL": db_url,
        "OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OBCP_LOG_LEVEL": "warning",
        "OBCP_SECRET_KEY_FILE": str(work / "secret.key"),
    }
    replicas = [Replica(name, work / name, env) for name in ("A", "B")]
    api = LiveApi(replicas)
    try:
        replicas[0].start()  # alone first: it migrates the metadb and creates the admin user
        replicas[1].start()
        with sandbox(replicas[0].url, work / "sandbox", 3, "soak") as sb:
            result = run_restarts(api, sb.cluster_id, work / "sandbox", restarts, seed, every)
        return {**result, "steps_run_again": steps_run_again(db_url)}
    finally:
        for r in replicas:
            r.stop()


def steps_run_again(db_url: str) -> dict[str, int]:
    """Subtasks that ran more than once (a run taken over from a killed replica starts again, as does an
    automatic retry), and their extra runs."""
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.coalesce(func.sum(S.run_time - 1), 0)).where(S.run_time > 1)
            ).one()
    finally:
        engine.dispose()
    return {"subtasks": int(row[0]), "extra_runs": int(row[1])}


def run_restarts(
    api: LiveApi, cluster_id: int, root: Path, restarts: int, seed: int, every: tuple[float, float]
) -> dict[str, Any]:
    state = json.loads((root / "sandbox.json").read_text())
    watcher = ObserverWatcher([s["base_dir"] for s in state["servers"]])
    watcher.scan()
    watcher.start()
    prober, killer = Prober(api), Killer(api, seed, every)
    prober.start()
    killer.start()
    tasks: list[dict[str, Any]] = []
    windows: list[tuple[float, float]] = []
    try:
        for i in range(restarts):
            status, window, task_id = one_restart(api, prober, cluster_id, timeout=600)
            windows.append(window)
            seconds = window[1] - window[0]
            tasks.append({"task": task_id, "status": status, "seconds": round(seconds, 1)})
            print(f"restart {i + 1}/{restarts}: task {task_id} {status} in {seconds:.1f} s", flush=True)
            if status != "SUCCESSFUL" or killer.errors:
                break
    finally:
        for thread in (killer, prober, watcher):
            thread.stopping.set()
            thread.join(60)
    watcher.scan()
    return {
        "restarts": restarts,
        "tasks": tasks,
        "observer_processes": watcher.processes(),
        "observer_starts": watcher.starts(windows),
        "replica_kills": {r.name: r.kills for r in api.replicas},
        "replica_down_seconds": [round(s, 2) for s in killer.downtimes],
        "killer_errors": killer.errors,
        "api_answers": api.answers,
        "api_failures": api.failures,
    }


def verdict(result: dict[str, Any]) -> list[str]:
    """What went wrong; empty when the soak passed."""
    wrong = [f"task {t['task']} ended {t['status']}" for t in result["tasks"] if t["status"] != "SUCCESSFUL"]
    if len(result["tasks"]) != result["restarts"]:
        wrong.append(f"only {len(result['tasks'])} of {result['restarts']} restarts ran")
    expected = list(range(len(result["tasks"]) + 1))
    for name, starts in result["observer_starts"].items():
        if starts != expected:
            pids = result["observer_processes"][name]
            wrong.append(f"observer {name}: processes started in restarts {starts}, not {expected}: {pids}")
    wrong += [f"API call failed: {f}" for f in result["api_failures"]]
    wrong += result["killer_errors"]
    return wrong


def report(result: dict[str, Any], wrong: list[str]) -> None:
    seconds = [t["seconds"] for t in result["tasks"]]
    kills = sum(result["replica_kills"].values())
    print(f"restarts: {len(seconds)} of {result['restarts']}, SUCCESSFUL: "
          f"{sum(t['status'] == 'SUCCESSFUL' for t in result['tasks'])}")  # fmt: skip
    if seconds:
        print(f"restart seconds: median {statistics.median(seconds):.1f}, worst {max(seconds):.1f}")
    down = result["replica_down_seconds"]
    median = statistics.median(down) if down else 0.0
    print(f"replica SIGKILLs: {kills} {result['replica_kills']}; a killed replica answered again after "
          f"median {median:.1f} s, worst {max(down, default=0):.1f} s")  # fmt: skip
    counts = {name: len(p) for name, p in result["observer_processes"].items()}
    print(f"observer processes seen (initial + one per restart): {counts}")
    once = all(starts == list(range(len(seconds) + 1)) for starts in result["observer_starts"].values())
    print(f"each observer replaced exactly once during each restart: {'yes' if once else 'NO'}")
    again = result["steps_run_again"]
    print(f"subtasks run more than once (taken over, or retried): {again['subtasks']}, "
          f"{again['extra_runs']} more runs")  # fmt: skip
    print(f"task API: {sum(result['api_answers'].values())} answers {result['api_answers']}, "
          f"{len(result['api_failures'])} failures")  # fmt: skip
    print("soak PASSED" if not wrong else "soak FAILED:\n  " + "\n  ".join(wrong))
    print("SOAK-RESULT " + json.dumps({**result, "wrong": wrong}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--restarts", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(3.0, 6.0), metavar=("MIN", "MAX"))
    parser.add_argument("--db-url", help="the metadb (default: a fresh database on OBCP_TEST_PG_URL)")
    parser.add_argument("--work-dir", help="keep the replicas' logs there (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="obcp-soak-") as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        every = (args.kill_every[0], args.kill_every[1])
        if args.db_url:
            result = soak(args.db_url, work, args.restarts, args.seed, every)
        else:
            with fresh_pg_database("obcp_soak") as url:
                result = soak(url, work, args.restarts, args.seed, every)
    wrong = verdict(result)
    report(result, wrong)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
