"""What notifications cost the engine: the same no-op tasks run by an engine without a settle listener and by
one with the notification outbox wired in (`obcp.notify.outbox.task_settled`, as the server wires it) and
channels that subscribe to every task, so that every settled task writes its outbox rows (the worst case).
No sender runs: this measures the engine's path only, which is all that notifications add to it (the
sender is a separate loop). Rounds alternate in the same run; medians and their ratio are printed, of the
wall time and of this process's CPU time (the steadier figure on a machine that other work loads).

    .venv/bin/python bench/notify_overhead.py [--tasks 40] [--steps 10] [--rounds 5] [--channels 3]
        [--db-url postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME]   (an empty database: it is filled)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, delete, func, select

from obcp.engine import Context, Engine, EngineSettings
from obcp.engine.testing import noop_chain
from obcp.meta.alarm_tables import alarm_channel, alarm_delivery
from obcp.meta.db import Database, sync_url
from obcp.meta.schema import metadata
from obcp.notify import channels, outbox
from obcp.notify.channels import ChannelFields
from obcp.notify.events import Event, Subscription
from obcp.secretbox import SecretBox


async def add_channels(db: Database, count: int) -> None:
    box = SecretBox(Fernet.generate_key())
    subs = [Subscription(Event.TASK_SUCCESSFUL), Subscription(Event.TASK_FAILED)]
    async with db.tx() as conn:
        for i in range(count):
            fields = ChannelFields(f"bench-{i}", "http://127.0.0.1:9/", {}, "bench-secret-0123456789", subs)
            await channels.create(conn, box, fields, "bench")


async def one_round(db: Database, notify: bool, tasks: int, steps: int) -> tuple[float, float]:
    engine = Engine(
        db, "bench", EngineSettings(max_running=64), on_settled=outbox.task_settled if notify else None
    )
    await engine.start()
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        ids = [await engine.submit(noop_chain(steps), Context(), creator="bench") for _ in range(tasks)]
        for tid in ids:
            assert await engine.wait_task(tid, 600) == "SUCCESSFUL"
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        await engine.stop()


async def run(url: str, args: argparse.Namespace) -> None:
    eng = create_engine(sync_url(url))
    metadata.create_all(eng)
    db = Database(url)
    await add_channels(db, args.channels)
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    try:
        await one_round(db, True, 5, 2)  # warm-up: imports, connections, statement caches
        for _ in range(args.rounds):
            for notify in (False, True):
                times[notify].append(await one_round(db, notify, args.tasks, args.steps))
        with eng.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(alarm_delivery)).scalar_one()
            conn.execute(delete(alarm_delivery))
            conn.execute(delete(alarm_channel))
            conn.commit()
    finally:
        await db.dispose()
        eng.dispose()
    expected = (args.rounds * args.tasks + 5) * args.channels
    assert rows == expected, (rows, expected)  # every settled task of the notifying rounds wrote its rows
    print(
        f"{args.tasks} tasks x {args.steps} no-op steps, {args.rounds} rounds each, {args.channels} channels"
    )
    for i, what in ((0, "wall"), (1, "CPU")):
        base = statistics.median(t[i] for t in times[False])
        notified = statistics.median(t[i] for t in times[True])
        print(f"  {what}: without the outbox listener median {base:.3f} s, with it {notified:.3f} s: "
              f"ratio {notified / base:.3f}")  # fmt: skip
    print(f"  {rows} outbox rows written")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--db-url", default=None, help="an empty metadb; default: a SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
        asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
