"""The server SIGKILLed anywhere in a rolling restart: N rolling restarts of a 3 x 1 sandbox (real seekdb
observers, real agents), the `obcp server` SIGKILLed at a random moment of each (seeded) and started again
on the same home and port (so with the same server id: it takes its own runs back at once).

Each round: `POST /api/v2/ob/clusters/{id}/restart` (rolling, the defaults a user gets), a SIGKILL after a
random delay drawn from [0, 0.9 x the duration of a first, unkilled restart], the server started again,
the task waited for. A task that ends FAILED gets one `POST /api/v2/tasks/instances/{id}/retry`. Meanwhile
a /proc watcher (`obcp.sandbox.observer_watch`) records every observer process: each round must show
exactly two pids per observer (the old one, gone; the new one, running) — no observer stopped or started
twice. Prints how many rounds finished on their own, after one retry, or never, and which steps the kill
interrupted (the subtasks run more than once). Target: every round on its own. The exit code is 0 only
when every round finished on its own with each observer replaced exactly once.

    OBCP_SANDBOX_FIRST_SQL_PORT=... .venv/bin/python bench/kill_campaign.py [--rounds 50] [--seed 12]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from _stack import ADMIN_PASSWORD, sandbox
from obcp.agent.ports import free_port
from obcp.sandbox.observer_watch import ObserverWatch, replaced_once
from obcp.sandbox.server_process import ServerProcess, start_server, stop_process, wait_answering

TASK_TIMEOUT = 600.0


@dataclass
class Round:
    number: int
    kill_after: float
    outcome: str = "never"  # "own", "retry" or "never"
    seconds: float = 0.0
    rerun: list[str] = field(default_factory=list)  # steps that ran more than once (the kill's victims)
    killed_after_end: bool = False
    pid_problems: dict[str, str] = field(default_factory=dict)
    error: str = ""


class Server:
    """The `obcp server` under test: one home, one port, started again after each SIGKILL."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port("127.0.0.1")
        self.proc: ServerProcess | None = None

    def start(self) -> None:
        self.proc = start_server(self.home, self.port, {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD})
        wait_answering(self.proc)

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def api(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("admin", ADMIN_PASSWORD), timeout=30)


def data(client: httpx.Client, method: str, path: str) -> Any:
    r = client.request(method, path)
    if r.status_code != 200:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
    return r.json()["data"]


def wait_task(server: Server, task_id: int, timeout: float = TASK_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with api(server) as client:
        while True:
            task: dict[str, Any] = data(client, "GET", f"/api/v2/tasks/instances/{task_id}")
            if task["status"] != "RUNNING" or time.monotonic() > deadline:
                return task
            time.sleep(0.3)


def submit_restart(server: Server, cluster_id: int, freeze: bool) -> int:
    body = None if freeze else {"minorFreeze": False}
    with api(server) as client:
        r = client.post(f"/api/v2/ob/clusters/{cluster_id}/restart", json=body)
        if r.status_code != 200:
            raise RuntimeError(f"restart: {r.status_code} {r.text[:500]}")
        return int(r.json()["data"]["id"])


def failed_steps(server: Server, task: dict[str, Any]) -> str:
    """Each FAILED subtask with the end of its log (where the engine writes why)."""
    parts = []
    with api(server) as client:
        for s in task["subtasks"]:
            if s["status"] == "FAILED":
                path = f"/api/v2/tasks/instances/{task['id']}/subtasks/{s['id']}/log"
                log = str(data(client, "GET", path)["log"]).strip().splitlines()
                parts.append(f"{s['name']} #{s['id']}: {' | '.join(log[-3:])[-400:]}")
    return "; ".join(parts)


def one_round(
    server: Server, cluster_id: int, watch: ObserverWatch, number: int, delay: float, freeze: bool
) -> Round:
    result = Round(number, round(delay, 3))
    since = watch.mark()
    t0 = time.monotonic()
    task_id = submit_restart(server, cluster_id, freeze)
    time.sleep(max(0.0, delay - (time.monotonic() - t0)))
    server.sigkill()
    server.start()
    task = wait_task(server, task_id)
    if task["status"] == "SUCCESSFUL":
        result.outcome = "own"
    else:
        result.error = f"{task['status']}: {failed_steps(server, task)}"
        if task["status"] == "FAILED":
            with api(server) as client:
                data(client, "POST", f"/api/v2/tasks/instances/{task_id}/retry")
            task = wait_task(server, task_id)
            if task["status"] == "SUCCESSFUL":
                result.outcome = "retry"
    result.seconds = round(time.monotonic() - t0, 2)
    result.rerun = sorted(s["name"] for s in task["subtasks"] if int(s.get("runTime") or 1) > 1)
    result.killed_after_end = not result.rerun and _ended_before(task, delay, t0)
    result.pid_problems = replaced_once(watch, since)
    return result


def _ended_before(task: dict[str, Any], delay: float, t0: float) -> bool:
    """Whether the task had finished before the kill: its own span (server clock) shorter than the delay."""
    try:
        start = datetime.fromisoformat(task["startTime"])
        end = datetime.fromisoformat(task["finishTime"])
    except (KeyError, TypeError, ValueError):
        return False
    return (end - start).total_seconds() < delay


def report(rounds: list[Round], warmup: float) -> dict[str, Any]:
    outcomes = Counter(r.outcome for r in rounds)
    victims = Counter(name for r in rounds for name in r.rerun)
    summary = {
        "rounds": len(rounds),
        "own": outcomes["own"],
        "after_one_retry": outcomes["retry"],
        "never": outcomes["never"],
        "observers_replaced_exactly_once": sum(1 for r in rounds if not r.pid_problems),
        "killed_after_the_task_ended": sum(1 for r in rounds if r.killed_after_end),
        "unkilled_restart_seconds": round(warmup, 2),
        "round_seconds_median": sorted(r.seconds for r in rounds)[len(rounds) // 2] if rounds else 0,
        "steps_run_again": dict(victims.most_common()),
        "detail": [asdict(r) for r in rounds],
    }
    n = len(rounds)
    print(f"\nkill campaign: {n} rolling restarts of a 3 x 1 sandbox, the server SIGKILLed in each")
    print(f"  finished on their own:    {summary['own']}/{n}")
    print(f"  finished after one retry: {summary['after_one_retry']}/{n}")
    print(f"  never finished:           {summary['never']}/{n}")
    print(
        f"  observers replaced exactly once (2 pids each): {summary['observers_replaced_exactly_once']}/{n}"
    )
    print(f"  kills that landed after the task had ended: {summary['killed_after_the_task_ended']}")
    print(f"  unkilled restart: {warmup:.2f} s; killed round (kill, restart of the server, task): median "
          f"{summary['round_seconds_median']} s")  # fmt: skip
    print(f"  steps run again after the kill: {summary['steps_run_again']}")
    return summary


@dataclass
class Options:
    rounds: int
    seed: int
    window: float | None  # kill within [0, window] s; None: 0.9 x an unkilled restart's duration
    freeze: bool
    json_out: Path | None


def campaign(o: Options) -> bool:
    rng = random.Random(o.seed)
    with tempfile.TemporaryDirectory(prefix="obcp-kill-campaign-") as tmp:
        server = Server(Path(tmp) / "server")
        server.start()
        try:
            with sandbox(server.url, Path(tmp) / "sandbox", 3, "killcampaign") as sb:
                state = json.loads((Path(tmp) / "sandbox" / "sandbox.json").read_text())
                bases = [Path(s["base_dir"]) for s in state["servers"]]
                with ObserverWatch(bases) as watch:
                    warmup = o.window / 0.9 if o.window else unkilled(server, sb.cluster_id, watch, o.freeze)
                    print(
                        f"kills within [0, {0.9 * warmup:.2f}] s of each restart; seed {o.seed}", flush=True
                    )
                    done: list[Round] = []
                    for n in range(1, o.rounds + 1):
                        delay = rng.uniform(0, 0.9 * warmup)
                        r = one_round(server, sb.cluster_id, watch, n, delay, o.freeze)
                        done.append(r)
                        print(
                            f"round {n}: kill at {r.kill_after:.2f} s, {r.outcome} in {r.seconds} s; "
                            f"run again: {r.rerun or '-'}"
                            + (f"; pids: {r.pid_problems}" if r.pid_problems else "")
                            + (f"; {r.error}" if r.error else ""),
                            flush=True,
                        )
        finally:
            server.stop()
    summary = report(done, warmup)
    if o.json_out is not None:
        o.json_out.write_text(json.dumps(summary, indent=2))
    return bool(summary["own"] == o.rounds and summary["observers_replaced_exactly_once"] == o.rounds)


def unkilled(server: Server, cluster_id: int, watch: ObserverWatch, freeze: bool) -> float:
    """One restart left alone: how long one takes (the kill window), and a check of the watcher."""
    since = watch.mark()
    t0 = time.monotonic()
    task = wait_task(server, submit_restart(server, cluster_id, freeze))
    seconds = time.monotonic() - t0
    assert task["status"] == "SUCCESSFUL", failed_steps(server, task)
    assert not replaced_once(watch, since), replaced_once(watch, since)
    print(f"unkilled rolling restart: {seconds:.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="kill within [0, WINDOW] s (default: from an unkilled restart)",
    )
    parser.add_argument(
        "--no-minor-freeze",
        action="store_true",
        help='restart with {"minorFreeze": false} (a shorter restart)',
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    a = parser.parse_args()
    ok = campaign(Options(a.rounds, a.seed, a.window, not a.no_minor_freeze, a.json))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
