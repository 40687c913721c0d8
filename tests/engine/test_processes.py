"""Real server processes: SIGKILL at several points, and three replicas on one metadb (each engine kind).

Tasks are submitted straight into the metadb with `Engine.submit` (no server needed for that); the servers
run them because they load the test templates (OBCP_ENGINE_MODULES=obcp.engine.testing). Every run records
itself in `engine_test_effect`, which proves each run happened exactly once per runTime and that nothing
was lost.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from obcp.engine import Context, Engine
from obcp.engine.testing import chain_template, crash_template, effect_metadata, engine_test_effect
from obcp.meta.db import Database, sync_url
from obcp.meta.migrate import upgrade
from obcp.meta.task_tables import subtask_instance, task_instance
from obcp.secretbox import SecretBox
from tests.dbs import temporary_database

from .servers import Server, stop_all

pytestmark = pytest.mark.slow


def prepare(url: str, home: Path) -> None:
    upgrade(url)
    eng = create_engine(sync_url(url))
    effect_metadata.create_all(eng)
    eng.dispose()
    SecretBox.from_file(home / "secret.key")


async def submit(url: str, template_factory, count: int, ctx: Context) -> list[int]:  # type: ignore[no-untyped-def]
    db = Database(url)
    try:
        submitter = Engine(db, "test-submitter")
        return [
            await submitter.submit(template_factory(), ctx, creator="admin", creator_id=1)
            for _ in range(count)
        ]
    finally:
        await db.dispose()


async def task_states(url: str, ids: list[int]) -> dict[int, str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                select(task_instance.c.id, task_instance.c.state).where(task_instance.c.id.in_(ids))
            )
            return {r.id: r.state for r in rows}
    finally:
        await db.dispose()


async def wait_settled(url: str, ids: list[int], seconds: float) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while True:
        states = await task_states(url, ids)
        if all(s != "RUNNING" for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"tasks still running: {Counter(states.values())}")
        await asyncio.sleep(0.2)


async def check_effects(url: str, ids: list[int]) -> list[str]:
    """Every subtask SUCCESSFUL with exactly one recorded run per runTime, one of them its last."""
    db = Database(url)
    try:
        async with db.read() as conn:
            subs = (
                await conn.execute(
                    select(
                        subtask_instance.c.id,
                        subtask_instance.c.state,
                        subtask_instance.c.run_time,
                        subtask_instance.c.class_name,
                        subtask_instance.c.executor,
                    ).where(subtask_instance.c.task_id.in_(ids))
                )
            ).all()
            effects = (
                await conn.execute(
                    select(
                        engine_test_effect.c.subtask_id, engine_test_effect.c.run_time, func.count()
                    ).group_by(engine_test_effect.c.subtask_id, engine_test_effect.c.run_time)
                )
            ).all()
    finally:
        await db.dispose()
    per_run = {(e[0], e[1]): e[2] for e in effects}
    assert all(n == 1 for n in per_run.values()), [k for k, n in per_run.items() if n != 1]
    for s in subs:
        if "Wait" in s.class_name:
            continue
        assert s.state == "SUCCESSFUL", s
        assert per_run.get((s.id, s.run_time)) == 1, (
            f"subtask {s.id} has no record of its last run {s.run_time}"
        )
        assert all(rt <= s.run_time for (sid, rt) in per_run if sid == s.id)
    return [s.executor for s in subs]


async def wait_running(url: str, ids: list[int], class_key: str, *, fan_out: bool = False) -> None:
    """Until some subtask of this class (of the fan-out, if asked) is RUNNING: the point to kill at."""
    s = subtask_instance.c
    cond = [s.task_id.in_(ids), s.class_name == class_key, s.state == "RUNNING"]
    if fan_out:
        cond.append(s.parallel_idx >= 0)
    deadline = time.monotonic() + 60
    db = Database(url)
    try:
        while time.monotonic() < deadline:
            async with db.read() as conn:
                if await conn.scalar(select(func.count()).where(*cond)):
                    return
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()
    raise AssertionError(f"no {class_key} ever ran")


def retry_failed(server: Server, states: dict[int, str]) -> int:
    """Retry every FAILED task through the API after checking why it failed; returns the subtasks retried."""
    retried = 0
    for tid, state in states.items():
        if state != "FAILED":
            continue
        task = server.get(f"/api/v2/tasks/instances/{tid}")
        for sub in task["subtasks"]:
            if sub["status"] != "FAILED":
                continue
            assert sub["name"] == "Once-only test step", sub
            log = server.get(f"/api/v2/tasks/instances/{tid}/subtasks/{sub['id']}/log")["log"]
            assert "interrupted" in log, log
            retried += 1
        assert server.post(f"/api/v2/tasks/instances/{tid}/retry").status_code == 200
    return retried


async def test_sigkill_at_several_points_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'meta.sqlite'}"
    home = tmp_path / "home"
    prepare(url, home)
    server = Server(url, home)
    ctx = Context()
    ctx.put_list("items", ["a", "b", "c"])
    ctx.put("sleep_ms", 400)
    server.start()
    try:
        ids = await submit(url, crash_template, 3, ctx)
        # 1: during a repeatable step; 2: during a once-only step; 3: during the fan-out.
        await wait_running(url, ids, "obcp.test.RepeatableStep")
        server.kill()
        server.start()
        await wait_running(url, ids, "obcp.test.OnceStep")
        server.kill()
        server.start()
        interrupted = retry_failed(server, await wait_settled(url, ids, 60))
        assert interrupted > 0
        await wait_running(url, ids, "obcp.test.RepeatableStep", fan_out=True)
        server.kill()
        server.start()
        for _ in range(5):
            states = await wait_settled(url, ids, 60)
            if set(states.values()) == {"SUCCESSFUL"}:
                break
            interrupted += retry_failed(server, states)
        assert set(states.values()) == {"SUCCESSFUL"}, states
        await check_effects(url, ids)
        db = Database(url)
        async with db.read() as conn:
            s = subtask_instance.c
            reran = await conn.scalar(
                select(func.count()).where(
                    s.task_id.in_(ids), s.run_time > 1, s.continue_after_crash.is_(True)
                )
            )
            reran_fan = await conn.scalar(
                select(func.count()).where(
                    s.task_id.in_(ids), s.run_time > 1, s.continue_after_crash.is_(True), s.parallel_idx >= 0
                )
            )
        await db.dispose()
        assert reran and reran_fan, (reran, reran_fan)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "sqlite"])
async def test_three_replicas_one_killed(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as raw_url:
        url = str(raw_url)
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'replicas.sqlite'}"
        home = tmp_path / "home"
        prepare(url, home)
        servers = [Server(url, home) for _ in range(3)]
        servers[0].start()  # first alone: it creates the default users
        for s in servers[1:]:
            s.launch()
        for s in servers[1:]:
            s.wait_ready()
        try:
            ctx = Context()
            ctx.put("sleep_ms", 10)
            ids = await submit(url, lambda: chain_template(20), 50, ctx)
            await asyncio.sleep(2.0)
            servers[1].kill()
            states = await wait_settled(url, ids, 120)
            assert set(states.values()) == {"SUCCESSFUL"}, Counter(states.values())
            executors = await check_effects(url, ids)
            assert len(set(executors)) >= 2, Counter(executors)
        finally:
            stop_all(servers)
