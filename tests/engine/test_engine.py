"""The engine in one process: OCP's state machine, operator actions, locks, timeouts, recovery. On SQLite; the
locks, a lease's expiry and recovery, and fencing on every metadb (SQLite, PostgreSQL, MariaDB, seekdb)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import update

from obcp.engine import (
    Context,
    Engine,
    ResourceLock,
    TemplateBuilder,
    basic_json,
    load_tasks,
    no_clusters,
    read_log,
    seed_json,
    wrapped_json,
)
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database, now_ms
from obcp.meta.task_tables import subtask_instance

from .conftest import FAST, METADBS
from .helpers import (
    GATES,
    JOURNAL,
    ROLLBACK_SAW,
    SCRIPT,
    A,
    B,
    C,
    D,
    NoCancel,
    NoSkip,
    Prohibiting,
    Quick,
    Repeat,
    Retrying,
    Writer1,
    Writer2,
    reset,
    settle,
    snapshot,
    states,
)


@pytest.fixture(autouse=True)
def _clean() -> None:
    reset()


def chain(*classes: type) -> TemplateBuilder:
    builder = TemplateBuilder("Test chain")
    for cls in classes:
        builder.then(cls)
    return builder


async def test_chain_runs_in_order_and_passes_context(engine: Engine, db: Database) -> None:
    ctx = Context()
    ctx.put("cluster_id", 5)
    ctx.put("root_password", "s3cr3t-value")
    tid = await engine.submit(chain(A, B, C).build(), ctx, creator="admin", creator_id=1)
    assert await settle(engine, tid) == "SUCCESSFUL"
    assert [j[0] for j in JOURNAL] == ["A", "B", "C"]
    task, subs, _ = await snapshot(db, tid)
    assert task.end_time is not None and task.operation == "EXECUTE"
    last = Context.from_json(subs[-1].context)
    assert last.get("done_A") == str(subs[0].id) and last.get("cluster_id") == "5"
    async with db.read() as conn:
        text = await read_log(conn, tid, subs[1].id)
    lines = text.split("\n")
    assert lines[0].startswith("############{EXECUTE}{") and lines[0].endswith("}############")
    assert "Run subtask, id=" in lines[1] and "root_password=******" in lines[1]
    assert "s3cr3t-value" not in text
    assert lines[-1] == f"Set state for subtask: {subs[1].id}, current state: RUNNING, new state: SUCCESSFUL"


async def test_failure_then_task_retry(engine: Engine, db: Database) -> None:
    SCRIPT[("B:run", 1)] = "fail"
    tid = await engine.submit(chain(A, B, C).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    assert await states(db, tid) == (
        "FAILED",
        "EXECUTE",
        {"A#-1": "SUCCESSFUL", "B#-1": "FAILED", "C#-1": "PENDING"},
    )
    await engine.retry_task(tid)
    assert await settle(engine, tid) == "SUCCESSFUL"
    task, subs, _ = await snapshot(db, tid)
    assert task.operation == "RETRY"
    assert [(s.name, s.run_time, s.operation) for s in subs] == [
        ("A", 1, "EXECUTE"),
        ("B", 2, "RETRY"),
        ("C", 1, "EXECUTE"),
    ]
    async with db.read() as conn:
        text = await read_log(conn, tid, subs[1].id)
    assert text.count("############{") == 2 and "{RETRY}" in text and "B failed as scripted" in text
    with pytest.raises(ObcpError) as err:
        await engine.retry_task(tid)
    assert err.value.error_code is ErrorCode.TASK_STATE_INVALID


async def test_automatic_retries_count_runs(engine: Engine, db: Database) -> None:
    SCRIPT[("Retrying:run", 1)] = "fail"
    SCRIPT[("Retrying:run", 2)] = "fail"
    tid = await engine.submit(chain(A, Retrying).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
    _, subs, _ = await snapshot(db, tid)
    assert (subs[1].run_time, subs[1].operation) == (3, "RETRY")


async def test_skip_lets_downstream_continue(engine: Engine, db: Database) -> None:
    SCRIPT[("B:run", 1)] = "fail"
    tid = await engine.submit(chain(A, B, C).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    _, subs, _ = await snapshot(db, tid)
    with pytest.raises(ObcpError) as err:
        await engine.skip_subtask(tid, subs[0].id, "admin")
    assert err.value.error_code is ErrorCode.TASK_STATE_INVALID
    await engine.skip_subtask(tid, subs[1].id, "admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
    _, subs, _ = await snapshot(db, tid)
    assert (subs[1].state, subs[1].operation) == ("SUCCESSFUL", "SKIP")
    # The skipped step's input reaches its downstream.
    assert Context.from_json(subs[2].context).get("done_A") == str(subs[0].id)


async def test_skip_prohibited(engine: Engine) -> None:
    SCRIPT[("NoSkip:run", 1)] = "fail"
    tid = await engine.submit(chain(A, NoSkip).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    task_sub = (await snapshot(engine.db, tid))[1][1]
    with pytest.raises(ObcpError) as err:
        await engine.skip_subtask(tid, task_sub.id, "admin")
    assert err.value.error_code is ErrorCode.SUBTASK_SKIP_PROHIBITED


async def test_rollback_walks_back_and_releases_the_lock(engine: Engine, db: Database) -> None:
    SCRIPT[("C:run", 1)] = "fail"
    lock = [ResourceLock.cluster(5)]
    tid = await engine.submit(chain(A, B, C, D).build(), Context(), creator="admin", locks=lock, cluster_id=5)
    assert await settle(engine, tid) == "FAILED"
    # A failed task keeps its lock.
    with pytest.raises(ObcpError) as err:
        await engine.submit(chain(A).build(), Context(), creator="admin", locks=lock)
    assert err.value.error_code is ErrorCode.CLUSTER_BUSY and f"task {tid}" in err.value.message
    JOURNAL.clear()
    await engine.rollback_task(tid)
    assert await settle(engine, tid) == "SUCCESSFUL"
    assert [(j[0], j[2]) for j in JOURNAL] == [("C", "ROLLBACK"), ("B", "ROLLBACK"), ("A", "ROLLBACK")]
    task, subs, _ = await snapshot(db, tid)
    # Each undo sees what its own run recorded; the failed step recorded nothing.
    assert {"A": str(subs[0].id), "B": str(subs[1].id), "C": None} == ROLLBACK_SAW
    assert task.operation == "ROLLBACK"
    assert all(s.state == "PENDING" for s in subs)
    assert [s.operation for s in subs] == ["ROLLBACK", "ROLLBACK", "ROLLBACK", "EXECUTE"]
    assert [s.waiting for s in subs] == [0, 1, 1, 1]
    other = await engine.submit(chain(A).build(), Context(), creator="admin", locks=lock)
    assert await settle(engine, other) == "SUCCESSFUL"


async def test_rollback_prohibited(engine: Engine) -> None:
    SCRIPT[("B:run", 1)] = "fail"
    tid = await engine.submit(chain(Prohibiting, B).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    with pytest.raises(ObcpError) as err:
        await engine.rollback_task(tid)
    assert err.value.error_code is ErrorCode.TASK_ROLLBACK_PROHIBITED
    tid2 = await engine.submit(chain(A, B).prohibit_rollback().build(), Context(), creator="admin")
    assert await settle(engine, tid2) == "FAILED"
    with pytest.raises(ObcpError) as err:
        await engine.rollback_task(tid2)
    assert err.value.error_code is ErrorCode.TASK_ROLLBACK_PROHIBITED


async def test_failed_rollback_can_be_skipped_through(engine: Engine, db: Database) -> None:
    SCRIPT[("C:run", 1)] = "fail"
    SCRIPT[("B:rollback", 1)] = "fail"
    tid = await engine.submit(chain(A, B, C).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    await engine.rollback_task(tid)
    assert await settle(engine, tid) == "FAILED"
    assert await states(db, tid) == (
        "FAILED",
        "ROLLBACK",
        {"A#-1": "SUCCESSFUL", "B#-1": "FAILED", "C#-1": "PENDING"},
    )
    _, subs, _ = await snapshot(db, tid)
    with pytest.raises(ObcpError):
        await engine.retry_task(tid)  # no retry while rolling back
    with pytest.raises(ObcpError):
        await engine.retry_subtask(tid, subs[1].id)
    await engine.skip_subtask(tid, subs[1].id, "admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
    assert (await states(db, tid))[2] == {"A#-1": "PENDING", "B#-1": "PENDING", "C#-1": "PENDING"}


async def test_cancel_interrupts_the_run(engine: Engine, db: Database) -> None:
    SCRIPT[("B:run", 1)] = "hang"
    tid = await engine.submit(chain(A, B, C).build(), Context(), creator="admin")
    sub = await _wait_running(db, tid, "B")
    with pytest.raises(ObcpError) as err:
        await engine.cancel_subtask(tid, sub - 1)
    assert err.value.error_code is ErrorCode.TASK_STATE_INVALID
    await engine.cancel_subtask(tid, sub)
    assert await settle(engine, tid) == "FAILED"
    _, subs, _ = await snapshot(db, tid)
    assert (subs[1].state, subs[1].operation, subs[1].error) == ("FAILED", "CANCEL", "cancelled")
    await engine.retry_subtask(tid, sub)
    assert await settle(engine, tid) == "SUCCESSFUL"
    _, subs, _ = await snapshot(db, tid)
    assert (subs[1].run_time, subs[1].operation) == (2, "RETRY")


async def test_cancel_from_another_replica_reaches_the_owner(engine: Engine, db: Database) -> None:
    SCRIPT[("B:run", 1)] = "hang"
    tid = await engine.submit(chain(A, B).build(), Context(), creator="admin")
    sub = await _wait_running(db, tid, "B")
    # As another server would: only the database changes.
    await Engine(db, "another-replica").cancel_subtask(tid, sub)  # not started: it runs nothing
    assert await settle(engine, tid) == "FAILED"
    assert (await snapshot(db, tid))[1][1].operation == "CANCEL"


async def test_cancel_prohibited(engine: Engine, db: Database) -> None:
    SCRIPT[("NoCancel:run", 1)] = "gate"
    tid = await engine.submit(chain(NoCancel).build(), Context(), creator="admin")
    sub = await _wait_running(db, tid, "NoCancel")
    with pytest.raises(ObcpError) as err:
        await engine.cancel_subtask(tid, sub)
    assert err.value.error_code is ErrorCode.SUBTASK_CANCEL_PROHIBITED
    GATES["NoCancel"].set()
    assert await settle(engine, tid) == "SUCCESSFUL"


async def test_timeout_fails_the_run(engine: Engine, db: Database) -> None:
    SCRIPT[("Quick:run", 1)] = "hang"
    tid = await engine.submit(chain(Quick).build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    _, subs, _ = await snapshot(db, tid)
    assert subs[0].error == "timeout after 1s"
    async with db.read() as conn:
        assert "Receive timeout callback" in await read_log(conn, tid, subs[0].id)


async def test_fan_out_parallel_and_serial_with_wait_node(engine: Engine, db: Database) -> None:
    template = (
        TemplateBuilder("Fan out")
        .then(A)
        .then(B, split_key="zones")
        .wait()
        .then(C, split_key="zones", serial=True)
        .then(D)
        .build()
    )
    ctx = Context()
    ctx.put_list("zones", ["z1", "z2", "z3"])
    tid = await engine.submit(template, ctx, creator="admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
    _, subs, ups = await snapshot(db, tid)
    names = [(s.name, s.parallel_idx) for s in subs]
    assert names == [
        ("A", -1),
        ("B", 0),
        ("B", 1),
        ("B", 2),
        ("Wait node", -1),
        ("C", 0),
        ("C", 1),
        ("C", 2),
        ("D", -1),
    ]
    assert sorted(ups[subs[4].id]) == [subs[1].id, subs[2].id, subs[3].id]
    assert ups[subs[6].id] == [subs[5].id] and ups[subs[8].id] == [subs[7].id]
    cs = [j for j in JOURNAL if j[0] == "C"]
    assert [j[3] for j in cs] == [0, 1, 2]
    with pytest.raises(ObcpError) as err:
        await engine.submit(template, Context(), creator="admin")
    assert err.value.error_code is ErrorCode.TASK_CONTEXT_ERROR


async def test_lock_hierarchy(engine: Engine, db: Database) -> None:
    SCRIPT[("A:run", 1)] = "fail"
    zone = await engine.submit(chain(A).build(), Context(), creator="admin", locks=[ResourceLock.zone(12, 5)])
    assert await settle(engine, zone) == "FAILED"
    for lock, code in [
        (ResourceLock.cluster(5), ErrorCode.CLUSTER_BUSY),
        (ResourceLock.zone(12, 5), ErrorCode.ZONE_BUSY),
        (ResourceLock.server(7, 5, 12), ErrorCode.SERVER_BUSY),
    ]:
        with pytest.raises(ObcpError) as err:
            await engine.submit(chain(B).build(), Context(), creator="admin", locks=[lock])
        assert err.value.error_code is code
    # Other zones and clusters are free; the refused submissions left nothing behind.
    ok = await engine.submit(chain(B).build(), Context(), creator="admin", locks=[ResourceLock.zone(13, 5)])
    assert await settle(engine, ok) == "SUCCESSFUL"
    _, subs, _ = await snapshot(db, zone)
    await engine.skip_subtask(zone, subs[0].id, "admin")
    assert await settle(engine, zone) == "SUCCESSFUL"
    again = await engine.submit(chain(B).build(), Context(), creator="admin", locks=[ResourceLock.cluster(5)])
    assert await settle(engine, again) == "SUCCESSFUL"


@pytest.mark.parametrize("db", METADBS, indirect=True)
async def test_concurrent_submissions_one_wins(engine: Engine) -> None:
    SCRIPT[("A:run", 1)] = "gate"
    results = await asyncio.gather(
        *[
            engine.submit(chain(A).build(), Context(), creator="admin", locks=[ResourceLock.cluster(9)])
            for _ in range(5)
        ],
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1, results
    assert all(
        isinstance(r, ObcpError) and r.error_code is ErrorCode.CLUSTER_BUSY
        for r in results
        if not isinstance(r, int)
    ), results
    GATES["A"].set()


@pytest.mark.parametrize("db", METADBS, indirect=True)
async def test_expired_lease_is_recovered_by_another_replica(db: Database) -> None:
    SCRIPT[("Repeat:run", 1)] = "hang"
    SCRIPT[("B:run", 1)] = "hang"
    dead = Engine(db, "dead", FAST)
    await dead.start()
    builder = TemplateBuilder("Recover").branches(Repeat, B)
    tid = await dead.submit(builder.build(), Context(), creator="admin")
    await _wait_running(db, tid, "Repeat")
    await _wait_running(db, tid, "B")
    # A crash: the process stops without writing anything more.
    for task in dead._loops:
        task.cancel()
    for run in list(dead._runs.values()):
        run.reason = "lost"
        assert run.inner is not None
        run.inner.cancel()
    await asyncio.sleep(0.1)
    alive = Engine(db, "alive", FAST)
    await alive.start()
    try:
        assert await alive.wait_task(tid, 15) == "FAILED"
        _, subs, _ = await snapshot(db, tid)
        by_name = {s.name: s for s in subs}
        assert (by_name["Repeat"].state, by_name["Repeat"].run_time, by_name["Repeat"].executor) == (
            "SUCCESSFUL",
            2,
            "alive",
        )
        assert by_name["B"].state == "FAILED" and by_name["B"].error.startswith("interrupted")
        async with db.read() as conn:
            assert "interrupted" in await read_log(conn, tid, by_name["B"].id)
        await alive.retry_task(tid)
        assert await alive.wait_task(tid, 10) == "SUCCESSFUL"
    finally:
        await alive.stop()


@pytest.mark.parametrize("db", METADBS, indirect=True)
async def test_stale_owner_is_fenced(engine: Engine, db: Database) -> None:
    SCRIPT[("A:run", 1)] = "gate"
    tid = await engine.submit(chain(A).build(), Context(), creator="admin")
    sid = await _wait_running(db, tid, "A")
    async with db.tx() as conn:  # another replica took the run over (version bumped)
        await conn.execute(
            update(subtask_instance)
            .where(subtask_instance.c.id == sid)
            .values(version=subtask_instance.c.version + 1, owner="other", lease_expire_at=now_ms() + 60_000)
        )
    GATES["A"].set()
    await asyncio.sleep(1.5)
    _, subs, _ = await snapshot(db, tid)
    assert (subs[0].state, subs[0].owner) == ("RUNNING", "other")  # the stale result was refused


async def test_views_have_ocp_shapes(engine: Engine, db: Database) -> None:
    ctx = Context()
    ctx.put("cluster_name", "c1")
    ctx.put("agent_key", "abcdef")
    ctx.put_list("zones", ["z1"])
    tid = await engine.submit(chain(A, B).build(), ctx, creator="admin", creator_id=1)
    await settle(engine, tid)
    async with db.read() as conn:
        data = (await load_tasks(conn, [tid], clusters=no_clusters))[tid]
    wrapped = wrapped_json(data)
    assert set(wrapped) >= {
        "createTime",
        "creator",
        "executor",
        "id",
        "name",
        "operation",
        "prohibitRollback",
        "startTime",
        "status",
        "subtasks",
        "taskDefinitionId",
        "type",
    }
    assert set(wrapped["subtasks"][0]) == {
        "createTime",
        "description",
        "downstreams",
        "executor",
        "finishTime",
        "id",
        "name",
        "nodeType",
        "operation",
        "parallelIdx",
        "prohibitRollback",
        "runTime",
        "seriesId",
        "startTime",
        "status",
        "timeout",
        "upstreams",
    }
    assert wrapped["subtasks"][1]["upstreams"] == [wrapped["subtasks"][0]["id"]]
    basic = basic_json(data)
    assert set(basic["subtasks"][0]) == {"description", "id", "name", "operation", "status"}
    seed = seed_json(data)
    assert seed["context"].startswith("Context(parallelIdx=-1, stringMap={agent_key=******, cluster_name=c1")
    assert seed["context"].endswith("listMap={zones=[z1]})")
    assert "abcdef" not in json.dumps([wrapped, basic, seed])


def test_context_merge_rules() -> None:
    from obcp.engine.context import merge

    a, b = Context(), Context()
    a.put("k", 1)
    b.put("k", 1)
    a.put_list("l", [1, 2])
    b.put_list("l", [2, 3])
    a.put("latest_execution_start_time", "x")
    b.put("latest_execution_start_time", "y")
    merged = merge([a, b])
    assert merged.list_map == {"l": ["1", "2", "3"]} and merged.get("k") == "1"
    b.put("k", 2)
    with pytest.raises(ObcpError):
        merge([a, b])
    assert (
        Context(2, {"a": "b"}, {"k": ["1"]}).java_string()
        == "Context(parallelIdx=2, stringMap={a=b}, listMap={k=[1]})"
    )


async def _wait_running(db: Database, tid: int, name: str) -> int:
    for _ in range(200):
        _, subs, _ = await snapshot(db, tid)
        for s in subs:
            if s.name == name and s.state == "RUNNING":
                return int(s.id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never ran")


async def test_conflicting_upstream_outputs_fail_the_join(engine: Engine, db: Database) -> None:
    builder = TemplateBuilder("Conflict")
    root = builder.add(A)
    left = builder.add(Writer1, after=[root])
    right = builder.add(Writer2, after=[root])
    builder.add(D, after=[left, right])
    tid = await engine.submit(builder.build(), Context(), creator="admin")
    assert await settle(engine, tid) == "FAILED"
    _, subs, _ = await snapshot(db, tid)
    join = subs[-1]
    assert join.state == "FAILED" and "found different value for same key shared" in join.error
    async with db.read() as conn:
        assert "found different value" in await read_log(conn, tid, join.id)
    await engine.skip_subtask(tid, join.id, "admin")
    assert await settle(engine, tid) == "SUCCESSFUL"
