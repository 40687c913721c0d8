"""What the minor freeze before a stop saves: one seekdb with N rows written and not yet checkpointed,
restarted (a) after obcp's freeze (`obcp.ob.freeze.minor_freeze`, what "Stop observer process" runs),
(b) without it (the restart replays their redo), against (c) a clean restart (nothing written since the
last dump), all in one run on the same server.

Each round writes the same N rows again (`INSERT ... ON DUPLICATE KEY UPDATE` with a new value, so every
dirty phase has N rows of fresh redo), in batches of 10,000. A restart is timed from the stop signal to the
first successful `SELECT 1` of the new process; the freeze is timed apart (it runs while the server still
serves). Target: (a) <= 1.2 x (c). It starts its own bare seekdb (the agent's command line) and stops it by
its pid.

    .venv/bin/python bench/restart_dirty.py [--rows 500000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import pymysql

from _stack import BareSeekdb, bare_seekdbs
from obcp.ob import ObEndpoint, ServerAddr, detect_capability, open_connection
from obcp.ob.freeze import minor_freeze

BATCH = 10_000


def write_rows(db: BareSeekdb, rows: int, tag: str) -> float:
    conn = pymysql.connect(host="127.0.0.1", port=db.port, user="root", autocommit=False)
    t0 = time.monotonic()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS bench")
            cur.execute("CREATE TABLE IF NOT EXISTS bench.dirty (id INT PRIMARY KEY, v VARCHAR(200))")
            value = (tag * 200)[:200]
            for start in range(0, rows, BATCH):
                batch = [(i, value) for i in range(start, min(rows, start + BATCH))]
                cur.executemany(
                    "INSERT INTO bench.dirty VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = VALUES(v)", batch
                )
                conn.commit()
    finally:
        conn.close()
    return time.monotonic() - t0


async def freeze(db: BareSeekdb) -> tuple[float, str]:
    async with open_connection(ObEndpoint("127.0.0.1", db.port)) as conn:
        cap = await detect_capability(conn)
        result = await minor_freeze(conn, cap, ServerAddr("127.0.0.1", 2882), timeout=600)
    return result.seconds, result.message


def one_round(db: BareSeekdb, rows: int, n: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    # Clean: everything written so far dumped, nothing since.
    asyncio.run(freeze(db))
    figures["clean"] = db.restart()
    figures["write_without"] = write_rows(db, rows, f"a{n}")
    figures["without_freeze"] = db.restart()
    figures["write_with"] = write_rows(db, rows, f"b{n}")
    figures["freeze"], message = asyncio.run(freeze(db))
    print(f"  round {n}: {message}", flush=True)
    figures["with_freeze"] = db.restart()
    print(
        f"  round {n}: clean {figures['clean']:.2f} s, without freeze {figures['without_freeze']:.2f} s, "
        f"with freeze {figures['with_freeze']:.2f} s (+ {figures['freeze']:.2f} s freeze while serving); "
        f"writes {figures['write_without']:.1f}/{figures['write_with']:.1f} s",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="obcp-bench-dirty-") as tmp, bare_seekdbs(Path(tmp), 1) as dbs:
        (db,) = dbs
        print(
            f"restart_dirty: {args.rows} rows, {args.rounds} round(s), seekdb on port {db.port}", flush=True
        )
        write_rows(db, args.rows, "w")  # the table exists and has its rows before the first clean restart
        rounds = [one_round(db, args.rows, n + 1) for n in range(args.rounds)]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    without, with_freeze = med["without_freeze"] / med["clean"], med["with_freeze"] / med["clean"]
    print(f"clean restart:          {med['clean']:.2f} s")
    print(f"dirty, without freeze:  {med['without_freeze']:.2f} s  ({without:.2f} x clean)")
    print(f"dirty, with freeze:     {med['with_freeze']:.2f} s  ({with_freeze:.2f} x clean, target <= 1.2)")
    print(f"the freeze itself:      {med['freeze']:.2f} s while the server still serves")


if __name__ == "__main__":
    main()
