"""Property tests: random DAGs with random failures and random operator actions.

Whatever happens, the engine never reaches an illegal state, never starts a subtask before its upstreams
succeeded (nor rolls one back before its downstreams are undone), keeps its join counters exact, and every
task ends.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from obcp.engine import Context, Engine, RunContext, Subtask, TemplateBuilder, register
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database
from obcp.meta.task_tables import subtask_dependency, subtask_instance

from .conftest import FAST, create_schema
from .helpers import snapshot

MAX_NODES = 7
FAILS: set[tuple[int, str, int]] = set()  # (node, "run"|"rollback", run_time)
VIOLATIONS: list[str] = []
ALLOWED_REFUSALS = {
    ErrorCode.TASK_STATE_INVALID,
    ErrorCode.TASK_ROLLBACK_PROHIBITED,
    ErrorCode.SUBTASK_SKIP_PROHIBITED,
}


class Node(Subtask):
    timeout = 30
    index = -1

    async def run(self, ctx: RunContext) -> None:
        await self._check(ctx, "run", "upstreams")

    async def rollback(self, ctx: RunContext) -> None:
        await self._check(ctx, "rollback", "downstreams")

    async def _check(self, ctx: RunContext, kind: str, direction: str) -> None:
        db = ctx.db
        d = subtask_dependency.c
        s = subtask_instance.c
        if direction == "upstreams":
            others = select(d.parent_id).where(d.child_id == ctx.subtask_id)
            need = "SUCCESSFUL"
        else:
            others = select(d.child_id).where(d.parent_id == ctx.subtask_id)
            need = "PENDING"
        async with db.read() as conn:
            bad = (await conn.execute(select(s.id, s.state).where(s.id.in_(others), s.state != need))).all()
        if bad:
            VIOLATIONS.append(f"{kind} of {ctx.subtask_id} with {direction} {list(bad)}")
        await asyncio.sleep(0)
        if (self.index, kind, ctx.run_time) in FAILS:
            raise RuntimeError("scripted failure")


NODE_CLASSES: list[type[Node]] = []
for i in range(MAX_NODES):
    NODE_CLASSES.append(
        register(type(f"N{i}", (Node,), {"key": f"tests.engine.props.N{i}", "name": f"N{i}", "index": i}))
    )
NODE_CLASSES[3].prohibit_rollback = True  # some DAGs cannot be given up on


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[list[int]], set[tuple[int, str, int]], list[tuple[int, int]], bool]:
    n = draw(st.integers(2, MAX_NODES))
    ups = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    fails = draw(
        st.sets(
            st.tuples(st.integers(0, n - 1), st.sampled_from(["run", "rollback"]), st.integers(1, 2)),
            max_size=6,
        )
    )
    actions = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), max_size=8))
    use_prohibiting = draw(st.booleans())
    return ups, fails, actions, use_prohibiting


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_random_dags_always_end_legally(
    scenario: tuple[list[list[int]], set[Any], list[tuple[int, int]], bool],
) -> None:
    asyncio.run(_scenario(*scenario))


async def _scenario(
    ups: list[list[int]], fails: set[Any], actions: list[tuple[int, int]], prohibiting: bool
) -> None:
    FAILS.clear()
    FAILS.update(fails)
    VIOLATIONS.clear()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'meta.db'}"
        create_schema(url)
        db = Database(url)
        engine = Engine(db, "prop", FAST)
        await engine.start()
        try:
            builder = TemplateBuilder("Random DAG")
            for i, after in enumerate(ups):
                cls = NODE_CLASSES[i] if (prohibiting or i != 3) else NODE_CLASSES[(i + 1) % MAX_NODES]
                builder.add(cls, after=after)
            tid = await engine.submit(builder.build(), Context(), creator="prop")
            pending = list(actions)
            for _ in range(40):
                state = await engine.wait_task(tid, 20)
                await _check_invariants(db, tid)
                if state == "SUCCESSFUL":
                    break
                assert state == "FAILED"
                await _operate(engine, db, tid, pending.pop(0) if pending else None)
            else:
                raise AssertionError("the task never ended")
            assert not VIOLATIONS, VIOLATIONS
        finally:
            await engine.stop()
            await db.dispose()


async def _operate(engine: Engine, db: Database, tid: int, action: tuple[int, int] | None) -> None:
    task, subs, _ = await snapshot(db, tid)
    failed = [s for s in subs if s.state == "FAILED"]
    try:
        if action is None:
            # The way out that always exists: set every failed subtask as done.
            for s in failed:
                await engine.skip_subtask(tid, s.id, "prop")
            return
        kind, pick = action
        target = failed[pick % len(failed)] if failed else subs[pick % len(subs)]
        if kind == 0:
            await engine.retry_task(tid)
        elif kind == 1:
            await engine.rollback_task(tid)
        elif kind == 2:
            await engine.skip_subtask(tid, target.id, "prop")
        else:
            await engine.retry_subtask(tid, target.id)
    except ObcpError as exc:
        assert exc.error_code in ALLOWED_REFUSALS, exc
        after, subs_after, _ = await snapshot(db, tid)
        assert (after.state, [s.state for s in subs_after]) == (task.state, [s.state for s in subs])


async def _check_invariants(db: Database, tid: int) -> None:
    task, subs, ups = await snapshot(db, tid)
    states = {s.id: s.state for s in subs}
    assert task.state in ("FAILED", "SUCCESSFUL")
    assert all(s.state in ("PENDING", "FAILED", "SUCCESSFUL") for s in subs), states
    for s in subs:
        assert s.waiting == sum(states[u] != "SUCCESSFUL" for u in ups[s.id]), (s.id, s.waiting)
        if s.state == "SUCCESSFUL":
            assert all(states[u] == "SUCCESSFUL" for u in ups[s.id])
        assert s.owner is None and s.lease_expire_at is None
    if task.state == "SUCCESSFUL":
        want = "PENDING" if task.operation == "ROLLBACK" else "SUCCESSFUL"
        assert all(s.state == want for s in subs), (task.operation, states)
    else:
        assert any(s.state == "FAILED" for s in subs)
