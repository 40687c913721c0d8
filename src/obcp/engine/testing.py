"""Test-only subtask classes and templates, loaded by a server only when its OBCP_ENGINE_MODULES lists
`obcp.engine.testing`.

Tests submit tasks built from these straight into the metadb (`Engine.submit` needs no running server), and
the servers under test pick them up through their sweep; every run records itself in `engine_test_effect`,
which is how the crash and replica tests prove each run happened exactly once per runTime.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert

from obcp.engine.template import RunContext, Subtask, Template, TemplateBuilder, register
from obcp.meta.db import now_ms

effect_metadata = MetaData()
engine_test_effect = Table(
    "engine_test_effect",
    effect_metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("subtask_id", BigInteger, nullable=False),
    Column("run_time", Integer, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
)


async def record(ctx: RunContext) -> None:
    db = ctx.db
    async with db.tx() as conn:
        await conn.execute(
            insert(engine_test_effect).values(
                subtask_id=ctx.subtask_id,
                run_time=ctx.run_time,
                operation=ctx.operation,
                pid=os.getpid(),
                at=now_ms(),
            )
        )


class _Sleeper(Subtask):
    timeout = 120

    async def run(self, ctx: RunContext) -> None:
        # `record_at=start` records the run as it starts, so that a run that ends while the metadb is away
        # (or is interrupted) has still left its record; by default a run records itself when done.
        at_start = ctx.get("record_at") == "start"
        if at_start:
            await record(ctx)
        ctx.log.info("working for %s ms", ctx.get("sleep_ms", "0"))
        await asyncio.sleep(int(ctx.get("sleep_ms", "0") or 0) / 1000)
        if not at_start:
            await record(ctx)
        ctx.log.info("done")


@register
class RepeatableStep(_Sleeper):
    key = "obcp.test.RepeatableStep"
    name = "Repeatable test step"
    continue_after_crash = True


@register
class OnceStep(_Sleeper):
    key = "obcp.test.OnceStep"
    name = "Once-only test step"


def crash_template() -> Template:
    """Repeatable and once-only steps, a parallel fan-out over listMap[items] and a Wait node join."""
    return (
        TemplateBuilder("Engine crash test")
        .then(RepeatableStep)
        .then(OnceStep)
        .then(RepeatableStep, split_key="items")
        .wait()
        .then(OnceStep)
        .then(RepeatableStep)
        .build()
    )


def once_chain(steps: int) -> Template:
    builder = TemplateBuilder(f"Engine once-only chain ({steps} steps)")
    for _ in range(steps):
        builder.then(OnceStep)
    return builder.build()


def handover_template() -> Template:
    """A repeatable and a once-only step side by side: what a replica's death or stop does to each."""
    return TemplateBuilder("Engine hand-over test").branches(RepeatableStep, OnceStep).build()


def chain_template(steps: int) -> Template:
    builder = TemplateBuilder(f"Engine chain test ({steps} steps)")
    for _ in range(steps):
        builder.then(RepeatableStep)
    return builder.build()


@register
class NoopStep(Subtask):
    key = "obcp.test.NoopStep"
    name = "No-op step"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        return None


def noop_chain(steps: int) -> Template:
    builder = TemplateBuilder(f"No-op chain ({steps} steps)")
    for _ in range(steps):
        builder.then(NoopStep)
    return builder.build()


def noop_fanout(width: int) -> Template:
    """A root, `width` parallel instances over listMap[items], and a Wait node join."""
    return (
        TemplateBuilder(f"No-op fan-out ({width} wide)")
        .then(NoopStep)
        .then(NoopStep, split_key="items")
        .wait()
        .build()
    )


@register
class FailStep(Subtask):
    key = "obcp.test.FailStep"
    name = "Failing test step"
    timeout = 60

    async def run(self, ctx: RunContext) -> None:
        raise RuntimeError(ctx.get("fail_message", "") or "failed on purpose (test step)")


def fail_template() -> Template:
    """A no-op step, then one that fails: the task ends FAILED."""
    return TemplateBuilder("Engine failing test").then(NoopStep).then(FailStep).build()
