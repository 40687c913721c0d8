"""How fast a replica's running work moves to another one, and what the leases that make it so cost.

(a) Two `obcp server` replicas on one PostgreSQL database (a fresh one on OBCP_TEST_PG_URL, dropped after).
    Each round submits a one-step task (a repeatable test step that records its run as it starts and then
    works for a minute), waits until it runs and a random fraction of a heartbeat more, then SIGKILLs (or
    SIGTERMs) the replica running it: the figure is the time from the signal to the step's next run starting
    on the other replica (the `at` of its run-2 record; one host, one clock). The killed replica is started
    again before the next round. Targets: median <= 3 s after SIGKILL, <= 1 s after SIGTERM. The baseline,
    in the same run: one SIGKILL round with the old timers (30 s lease, 5 s heartbeat, 2 s sweep).
(b) The cost: one engine in this process on SQLite and on PostgreSQL, the statements it sends counted by a
    SQLAlchemy event: writes (INSERT/UPDATE/DELETE) and reads per second while nothing runs, and while 1 and
    20 steps run.

    .venv/bin/python bench/failover.py [--rounds 10] [--baseline-rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine as SyncEngine

from _stack import fresh_pg_database
from obcp.agent.ports import free_port
from obcp.engine import Context, Engine, EngineSettings
from obcp.engine.testing import chain_template, effect_metadata, engine_test_effect
from obcp.meta.db import Database, sync_url
from obcp.meta.migrate import upgrade
from obcp.meta.task_tables import subtask_instance
from obcp.secretbox import SecretBox

OBCP = Path(sys.executable).with_name("obcp")
PASSWORD = "Bench-failover-1"
OLD_TIMERS = {
    "OBCP_ENGINE_LEASE_SECONDS": "30",
    "OBCP_ENGINE_HEARTBEAT_SECONDS": "5",
    "OBCP_ENGINE_SWEEP_SECONDS": "2",
}


def prepare(url: str, home: Path) -> None:
    upgrade(url)
    eng = create_engine(sync_url(url))
    effect_metadata.create_all(eng)
    eng.dispose()
    SecretBox.from_file(home / "secret.key")


@dataclass
class Replica:
    url: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "OBCP_HOME": str(self.home),
            "OBCP_DB_URL": self.url,
            "OBCP_PORT": str(self.port),
            "OBCP_ADMIN_PASSWORD": PASSWORD,
            "OBCP_LOG_LEVEL": "warning",
            "OBCP_ENGINE_MODULES": "obcp.engine.testing",
            **self.env,
        }
        log = open(self.home / f"server-{self.port}.log", "ab")  # noqa: SIM115 - the child writes to it
        self.proc = subprocess.Popen([str(OBCP), "server"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"obcp server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/time", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("obcp server did not start")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self) -> None:
        if self.proc is not None:
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def running_subtask(db: Database, task_id: int) -> Any:
    s = subtask_instance.c
    while True:
        async with db.read() as conn:
            row = (
                await conn.execute(select(s.id, s.executor).where(s.task_id == task_id, s.state == "RUNNING"))
            ).first()
        if row is not None:
            return row
        await asyncio.sleep(0.02)


async def second_run_at(db: Database, sid: int, seconds: float) -> float:
    e = engine_test_effect.c
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with db.read() as conn:
            at = await conn.scalar(select(func.min(e.at)).where(e.subtask_id == sid, e.run_time == 2))
        if at is not None:
            return float(at) / 1000
        await asyncio.sleep(0.02)
    raise RuntimeError(f"subtask {sid} never ran again")


async def one_round(db: Database, replicas: list[Replica], sig: signal.Signals, limit: float) -> float:
    """Seconds from the signal to the step's second run starting on the other replica."""
    ctx = Context()
    ctx.put("sleep_ms", 60_000)
    ctx.put("record_at", "start")
    tid = await Engine(db, "bench-submitter").submit(chain_template(1), ctx, creator="bench")
    row = await running_subtask(db, tid)
    victim = next(r for r in replicas if row.executor.endswith(f":{r.port}"))
    await asyncio.sleep(random.uniform(0, 1.0))  # any moment of the heartbeat cycle
    signalled = time.time()
    victim.signal(sig)
    took = await second_run_at(db, row.id, limit) - signalled
    victim.wait()
    victim.start()
    return took


async def takeover(rounds: int, baseline_rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"SIGKILL": [], "SIGTERM": [], "baseline SIGKILL": []}
    with fresh_pg_database() as url, tempfile.TemporaryDirectory(prefix="obcp-failover-") as tmp:
        home = Path(tmp)
        prepare(url, home)
        db = Database(url)
        plans = [("baseline SIGKILL", OLD_TIMERS, baseline_rounds, 90.0)]
        plans += [("SIGKILL", {}, rounds, 30.0), ("SIGTERM", {}, rounds, 30.0)]
        try:
            for label, env, count, limit in plans:
                if count == 0:
                    continue
                replicas = [Replica(url, home, env) for _ in range(2)]
                for r in replicas:
                    r.start()
                try:
                    sig = signal.SIGTERM if label == "SIGTERM" else signal.SIGKILL
                    for _ in range(count):
                        took = await one_round(db, replicas, sig, limit)
                        results[label].append(took)
                        print(f"  {label}: {took:.2f} s", flush=True)
                finally:
                    for r in replicas:
                        r.stop()
                await cancel_everything(db)
        finally:
            await db.dispose()
    return results


async def cancel_everything(db: Database) -> None:
    """The rounds' one-minute steps left running: ended so that the next plan starts from nothing."""
    async with db.tx() as conn:
        await conn.execute(
            subtask_instance.update()
            .where(subtask_instance.c.state.in_(["RUNNING", "READY"]))
            .values(state="FAILED", owner=None, lease_expire_at=None)
        )


class StatementCounter:
    def __init__(self) -> None:
        self.writes = 0
        self.reads = 0
        event.listen(SyncEngine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.writes += 1
        elif verb == "SELECT":
            self.reads += 1

    def reset(self) -> None:
        self.writes = self.reads = 0


async def cost(url: str, counter: StatementCounter, window: float) -> dict[str, tuple[float, float]]:
    """(writes/s, reads/s) of one engine with default settings: idle, and with 1 and 20 steps running."""
    with tempfile.TemporaryDirectory(prefix="obcp-failover-cost-") as home:
        prepare(url, Path(home))
    db = Database(url)
    engine = Engine(db, "cost", EngineSettings(modules="obcp.engine.testing"))
    await engine.start()
    out: dict[str, tuple[float, float]] = {}
    try:
        for label, runs in (("idle", 0), ("1 running", 1), ("20 running", 20)):
            ctx = Context()
            ctx.put("sleep_ms", int((window + 5) * 1000))
            ctx.put("record_at", "start")
            for _ in range(runs):
                await engine.submit(chain_template(1), ctx, creator="bench")
            await asyncio.sleep(2.0)  # claimed, started, first log flush done
            counter.reset()
            await asyncio.sleep(window)
            out[label] = (counter.writes / window, counter.reads / window)
            engine_runs = len(engine._runs)
            assert engine_runs == runs, (label, engine_runs)
            await asyncio.sleep(6.0)  # they end; the next phase starts from nothing running
    finally:
        await engine.stop()
        await db.dispose()
    return out


async def all_costs(window: float) -> dict[str, dict[str, tuple[float, float]]]:
    counter = StatementCounter()
    costs: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="obcp-failover-sqlite-") as tmp:
        costs["SQLite"] = await cost(f"sqlite+aiosqlite:///{tmp}/cost.sqlite", counter, window)
    with fresh_pg_database() as url:
        costs["PostgreSQL"] = await cost(url, counter, window)
    return costs


def report(results: dict[str, list[float]], costs: dict[str, dict[str, tuple[float, float]]]) -> None:
    print("\nTakeover: signal to the step running again on the other replica (PostgreSQL, 2 replicas)")
    print(f"{'':18} {'rounds':>6} {'median':>8} {'worst':>8} {'target':>8}")
    targets = {"SIGKILL": "<= 3 s", "SIGTERM": "<= 1 s", "baseline SIGKILL": "(old)"}
    for label in ("SIGKILL", "SIGTERM", "baseline SIGKILL"):
        xs = results[label]
        if xs:
            med, worst = statistics.median(xs), max(xs)
            print(f"{label:18} {len(xs):>6} {med:>7.2f}s {worst:>7.2f}s {targets[label]:>8}")
    if results["baseline SIGKILL"] and results["SIGKILL"]:
        ratio = statistics.median(results["SIGKILL"]) / statistics.median(results["baseline SIGKILL"])
        print(f"SIGKILL takeover, now / old timers: {ratio:.3f}")
    print("\nLease and heartbeat cost of one replica (statements per second; default timers)")
    print(f"{'':12} {'':12} {'writes/s':>9} {'reads/s':>9}")
    for dialect, phases in costs.items():
        for phase, (writes, reads) in phases.items():
            print(f"{dialect:12} {phase:12} {writes:>9.2f} {reads:>9.2f}")


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--baseline-rounds", type=int, default=1)
    parser.add_argument("--cost-window", type=float, default=10.0)
    args = parser.parse_args()
    random.seed(12)
    load = os.getloadavg()[0]
    results = asyncio.run(takeover(args.rounds, args.baseline_rounds))
    costs = asyncio.run(all_costs(args.cost_window))
    report(results, costs)
    # Shared machines: the figures stretch with the load (a takeover waits for CPU like everything else).
    print(f"\nload average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
