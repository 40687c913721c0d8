"""Subtask classes and helpers shared by the in-process engine tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from obcp.engine import Engine, RunContext, Subtask, register
from obcp.meta.db import Database
from obcp.meta.task_tables import subtask_dependency, subtask_instance, task_instance

# Behaviour scripted per subtask name and run: {("A", 1): "fail"}; every run is journaled in order.
SCRIPT: dict[tuple[str, int], str] = {}
JOURNAL: list[tuple[str, int, str, int]] = []  # (name, subtask id, operation, parallel idx)
GATES: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
# What each rollback found of its own run's output (`done_<name>`), by subtask name.
ROLLBACK_SAW: dict[str, str | None] = {}


def reset() -> None:
    SCRIPT.clear()
    JOURNAL.clear()
    GATES.clear()
    ROLLBACK_SAW.clear()


class Scripted(Subtask):
    timeout = 30

    async def run(self, ctx: RunContext) -> None:
        await self._act(ctx, "run")

    async def rollback(self, ctx: RunContext) -> None:
        await self._act(ctx, "rollback")

    async def _act(self, ctx: RunContext, kind: str) -> None:
        label = ctx.get("label_of_" + str(ctx.subtask_id)) or type(self).name
        JOURNAL.append((label, ctx.subtask_id, ctx.operation, ctx.parallel_idx))
        if kind == "rollback":
            ROLLBACK_SAW[type(self).name] = ctx.get(f"done_{type(self).name}")
        action = SCRIPT.get((f"{type(self).name}:{kind}", ctx.run_time), "")
        ctx.log.info("%s %s run %s: %s", type(self).name, kind, ctx.run_time, action or "ok")
        if action == "fail":
            raise RuntimeError(f"{type(self).name} failed as scripted")
        if action == "hang":
            await asyncio.sleep(3600)
        if action == "gate":
            await GATES[type(self).name].wait()
        if kind == "run":
            suffix = "" if ctx.parallel_idx < 0 else f"_{ctx.parallel_idx}"
            ctx.put(f"done_{type(self).name}{suffix}", ctx.subtask_id)


def make(name: str, **attrs: Any) -> type[Subtask]:
    cls = type(name.replace(" ", ""), (Scripted,), {"key": f"tests.engine.{name}", "name": name, **attrs})
    return register(cls)


A = make("A")
B = make("B")
C = make("C")
D = make("D")
Retrying = make("Retrying", retry_count=2)
NoSkip = make("NoSkip", can_skip=False)
NoCancel = make("NoCancel", can_cancel=False)
Prohibiting = make("Prohibiting", prohibit_rollback=True)
Quick = make("Quick", timeout=1)
Repeat = make("Repeat", continue_after_crash=True)


async def snapshot(db: Database, task_id: int) -> tuple[Any, list[Any], dict[int, list[int]]]:
    async with db.read() as conn:
        task = (await conn.execute(select(task_instance).where(task_instance.c.id == task_id))).one()
        subs = (
            await conn.execute(
                select(subtask_instance)
                .where(subtask_instance.c.task_id == task_id)
                .order_by(subtask_instance.c.id)
            )
        ).all()
        ups: dict[int, list[int]] = defaultdict(list)
        for e in (
            await conn.execute(select(subtask_dependency).where(subtask_dependency.c.task_id == task_id))
        ).all():
            ups[e.child_id].append(e.parent_id)
    return task, list(subs), ups


async def states(db: Database, task_id: int) -> tuple[str, str, dict[str, str]]:
    task, subs, _ = await snapshot(db, task_id)
    return task.state, task.operation, {f"{s.name}#{s.parallel_idx}": s.state for s in subs}


async def settle(engine: Engine, task_id: int) -> str:
    return await engine.wait_task(task_id, 20)


class _Writer(Subtask):
    timeout = 30

    async def run(self, ctx: RunContext) -> None:
        ctx.put("shared", type(self).name)


Writer1 = register(type("Writer1", (_Writer,), {"key": "tests.engine.Writer1", "name": "Writer 1"}))
Writer2 = register(type("Writer2", (_Writer,), {"key": "tests.engine.Writer2", "name": "Writer 2"}))
