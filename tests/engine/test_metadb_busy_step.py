"""A step whose own metadb access finds no connection in time (the pool's timeout under fleet load, found by
bench/fleet) or SQLite's lock is run again when it is safe to repeat, and fails as before when it is not."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from obcp.engine import Context, Engine, RunContext, Subtask, TemplateBuilder, read_log, register
from obcp.meta.db import Database

from .helpers import settle, snapshot

RAISED: list[str] = []


class _Busy(Subtask):
    timeout = 30

    async def run(self, ctx: RunContext) -> None:
        if len(RAISED) < 2:
            RAISED.append(type(self).name)
            if len(RAISED) == 1:
                raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached, connection timed out")
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        ctx.put("ran", "yes")


Repeatable = register(
    type("BusyRepeatable", (_Busy,), {"key": "tests.engine.BusyRepeatable", "name": "Busy repeatable",
                                      "continue_after_crash": True})
)  # fmt: skip
OnceOnly = register(
    type("BusyOnce", (_Busy,), {"key": "tests.engine.BusyOnce", "name": "Busy once"})
)  # fmt: skip


async def test_a_repeatable_step_is_run_again_after_a_busy_metadb(engine: Engine, db: Database) -> None:
    RAISED.clear()
    tid = await engine.submit(TemplateBuilder("busy").then(Repeatable).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
    assert RAISED == ["Busy repeatable", "Busy repeatable"]
    _, subs, _ = await snapshot(db, tid)
    assert subs[0].run_time == 1  # the same run, not an automatic retry
    async with db.read() as conn:
        log = await read_log(conn, tid, subs[0].id)
    assert log.count("the metadb did not serve this step") == 2 and "running it again" in log


async def test_a_once_only_step_still_fails_on_a_busy_metadb(engine: Engine, db: Database) -> None:
    RAISED.clear()
    tid = await engine.submit(TemplateBuilder("busy").then(OnceOnly).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    _, subs, _ = await snapshot(db, tid)
    assert subs[0].state == "FAILED" and "QueuePool limit" in (subs[0].error or "")
