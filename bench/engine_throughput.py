"""obcp's task engine against DBOS on the same no-op workload, on SQLite, in one run.

Workloads: a chain of N steps, and a fan-out of N parallel steps (obcp: a root, N parallel instances and a
Wait node; DBOS: a workflow that starts N child workflows of one step each and waits for them all, its
idiomatic durable fan-out). Both checkpoint every step in a SQLite file with WAL. Also times obcp on a
100-step chain (target: under a second). Run with the bench extra:

    python3.11 -m uv sync --extra dev --extra bench
    .venv/bin/python bench/engine_throughput.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from obcp.engine import Context, Engine, EngineSettings
from obcp.engine.testing import noop_chain, noop_fanout
from obcp.meta.db import Database, sync_url
from obcp.meta.schema import metadata


async def obcp_run(workdir: Path, chain_steps: int, fan_width: int) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{workdir / 'obcp.sqlite'}"
    eng = create_engine(sync_url(url))
    metadata.create_all(eng)
    eng.dispose()
    db = Database(url)
    engine = Engine(db, "bench", EngineSettings(max_running=64))
    await engine.start()
    results: dict[str, float] = {}
    try:
        warm = await engine.submit(noop_chain(5), Context(), creator="bench")
        await engine.wait_task(warm, 60)

        t0 = time.perf_counter()
        tid = await engine.submit(noop_chain(100), Context(), creator="bench")
        assert await engine.wait_task(tid, 600) == "SUCCESSFUL"
        results["chain100_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tid = await engine.submit(noop_chain(chain_steps), Context(), creator="bench")
        assert await engine.wait_task(tid, 3600) == "SUCCESSFUL"
        results["chain_s"] = time.perf_counter() - t0

        ctx = Context()
        ctx.put_list("items", list(range(fan_width)))
        t0 = time.perf_counter()
        tid = await engine.submit(noop_fanout(fan_width), ctx, creator="bench")
        assert await engine.wait_task(tid, 3600) == "SUCCESSFUL"
        results["fan_s"] = time.perf_counter() - t0
    finally:
        await engine.stop()
        await db.dispose()
    return results


def dbos_run(workdir: Path, chain_steps: int, fan_width: int) -> dict[str, float]:
    from dbos import DBOS, DBOSConfig

    config: DBOSConfig = {
        "name": "obcp-bench",
        "system_database_url": f"sqlite:///{workdir / 'dbos.sqlite'}",
        "log_level": "WARNING",
    }
    DBOS(config=config)

    @DBOS.step()
    def noop_step() -> None:
        return None

    @DBOS.workflow()
    def chain(n: int) -> None:
        for _ in range(n):
            noop_step()

    @DBOS.workflow()
    def child() -> None:
        noop_step()

    @DBOS.workflow()
    def fan(n: int) -> None:
        handles = [DBOS.start_workflow(child) for _ in range(n)]
        for handle in handles:
            handle.get_result()

    DBOS.launch()
    results: dict[str, float] = {}
    try:
        chain(5)
        t0 = time.perf_counter()
        chain(chain_steps)
        results["chain_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fan(fan_width)
        results["fan_s"] = time.perf_counter() - t0
    finally:
        DBOS.destroy()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000, help="chain length and fan-out width")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = args.steps
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = asyncio.run(obcp_run(work, n, n))
        theirs = dbos_run(work, n, n)
    print(f"workload: chain of {n} no-op steps, fan-out of {n} (SQLite, WAL), cpus={os.cpu_count()}")
    print(f"{'':8} {'chain steps/s':>14} {'fan-out steps/s':>16}")
    for name, r in (("obcp", ours), ("DBOS", theirs)):
        print(f"{name:8} {n / r['chain_s']:14.0f} {n / r['fan_s']:16.0f}")
    print(
        f"ratio obcp/DBOS: chain {theirs['chain_s'] / ours['chain_s']:.2f}x, "
        f"fan-out {theirs['fan_s'] / ours['fan_s']:.2f}x"
    )
    verdict = "OK" if ours["chain100_s"] < 1 else "over target"
    print(f"obcp 100-step chain: {ours['chain100_s'] * 1000:.0f} ms (target < 1000 ms: {verdict})")


if __name__ == "__main__":
    main()
