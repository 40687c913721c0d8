"""Every state transition of tasks and subtasks, each a short transaction of guarded updates.

Rules kept by every function here:
- A transaction that changes a task's subtasks first bumps the task row's version. That row lock serialises
  them per task on PostgreSQL and MySQL (SQLite's BEGIN IMMEDIATE serialises everything), so a join node
  finished by two replicas at once is still promoted exactly once.
- A subtask update names the state (and for leased work the owner and version) it expects, and its rowcount
  says whether it won. `version` is bumped whenever ownership changes, so it fences out a stale runner.
- `waiting` on a subtask counts its upstreams that are not SUCCESSFUL; it is adjusted whenever a subtask
  enters or leaves SUCCESSFUL, so promoting a join costs one indexed update, not a scan of its upstreams.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Integer, String, Text, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine import locks as lockmod
from obcp.engine.context import TRANSIENT_KEYS, Context, merge
from obcp.engine.logs import header, state_line
from obcp.engine.states import LEASED, Operation, SubtaskState, TaskState
from obcp.engine.template import Template
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database, install_sqlite_pragmas, now_ms, sync_url
from obcp.meta.task_tables import (
    resource_lock,
    subtask_dependency,
    subtask_instance,
    subtask_log,
    task_instance,
)
from obcp.timefmt import iso_ms

log = logging.getLogger("obcp.engine")

T = task_instance.c
S = subtask_instance.c
D = subtask_dependency.c
L = subtask_log.c

ACTIVE = (SubtaskState.READY.value, SubtaskState.RUNNING.value, SubtaskState.CANCELING.value)
LEASED_VALUES = tuple(s.value for s in LEASED)
R = TypeVar("R")

# The hot path's statements, built once: building a Core statement costs more than SQLite runs it.
_LOCK_TASK = update(task_instance).where(T.id == bindparam("b_task")).values(version=T.version + 1)
_FINISH = (
    update(subtask_instance)
    .where(
        S.id == bindparam("b_id"),
        S.owner == bindparam("b_owner"),
        S.version == bindparam("b_version"),
        S.state.in_(LEASED_VALUES),
    )
    .values(
        state=bindparam("b_state"),
        operation=func.coalesce(bindparam("b_operation", type_=String), S.operation),
        run_time=func.coalesce(bindparam("b_run_time", type_=Integer), S.run_time),
        context=func.coalesce(bindparam("b_context", type_=Text), S.context),
        error=bindparam("b_error", type_=String),
        owner=None,
        lease_expire_at=None,
        deadline_at=None,
        end_time=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        version=bindparam("b_version", type_=Integer) + 1,
    )
)
_INSERT_LOG = insert(subtask_log)
_UPDATE_LOG = (
    update(subtask_log)
    .where(L.id == bindparam("b_id"))
    .values(content=bindparam("b_content"), updated_at=bindparam("b_now"))
)
_WAITING_DOWN = (
    update(subtask_instance).where(S.id.in_(bindparam("b_ids", expanding=True))).values(waiting=S.waiting - 1)
)


async def in_tx(db: Database, fn: Callable[[Connection], R], attempts: int = 8) -> R:
    """Run `fn` (synchronous SQLAlchemy Core) in one write transaction, again on a deadlock or serialisation
    failure (every step is guarded, so a repeat is harmless).

    On PostgreSQL and MySQL it runs on the async engine (`run_sync`). On SQLite the whole transaction runs in
    one hop on a thread of its own with the synchronous driver: SQLite serialises writers anyway, and one
    hop per transaction instead of one per statement is most of the engine's speed there.
    """
    for attempt in range(attempts):
        try:
            if db.dialect == "sqlite":
                lane = _sqlite_lane(db)
                return await asyncio.get_running_loop().run_in_executor(lane.executor, lane.run, fn)
            async with db.tx() as conn:
                return await conn.run_sync(fn)
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not _retryable(exc):
                raise
            await asyncio.sleep(0.01 * (2**attempt))
    raise AssertionError("unreachable")


class _SqliteLane:
    """A synchronous engine on the same SQLite file and the one thread that runs its write transactions."""

    def __init__(self, db: Database) -> None:
        self.engine: Engine = create_engine(sync_url(db.url), connect_args={"timeout": 30})
        install_sqlite_pragmas(self.engine)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obcp-sqlite")

    def run(self, fn: Callable[[Connection], R]) -> R:
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                return fn(conn)

    def close(self) -> None:
        self.executor.shutdown(wait=False)
        self.engine.dispose()


_lanes: weakref.WeakKeyDictionary[Database, _SqliteLane] = weakref.WeakKeyDictionary()


def _sqlite_lane(db: Database) -> _SqliteLane:
    lane = _lanes.get(db)
    if lane is None:
        lane = _lanes[db] = _SqliteLane(db)
        weakref.finalize(db, lane.close)
    return lane


def _retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        s in text
        for s in (
            "deadlock",
            "lock wait timeout",
            "database is locked",
            "could not serialize",
            "1213",
            "1205",
        )
    )


# --- submission -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    template: Template
    context: Context
    creator: str
    creator_id: int | None
    executor: str
    locks: tuple[lockmod.ResourceLock, ...] = ()
    cluster_id: int | None = None
    tenant_id: int | None = None
    host_id: int | None = None
    trace_id: str | None = None
    name: str | None = None


def submit(conn: Connection, sub: Submission) -> int:
    """Task, every subtask and edge, and the locks, in the caller's transaction; roots start READY."""
    now = now_ms()
    ctx = sub.context.copy()
    # OCP adds the template's flag to the argument; a caller that already forbids rollback keeps it forbidden.
    prohibited = sub.template.prohibit_rollback or ctx.get("prohibit_rollback") == "true"
    ctx.put("prohibit_rollback", str(prohibited).lower())
    specs = sub.template.instantiate(ctx)
    if sub.locks:
        lockmod.ensure_guards(conn, {lk.cluster_id for lk in sub.locks})
    result = conn.execute(
        insert(task_instance).values(
            name=sub.name or sub.template.name,
            template=sub.template.name,
            type="MANUAL",
            state=TaskState.RUNNING.value,
            operation=Operation.EXECUTE.value,
            creator=sub.creator,
            creator_id=sub.creator_id,
            executor=sub.executor,
            cluster_id=sub.cluster_id,
            tenant_id=sub.tenant_id,
            host_id=sub.host_id,
            context=ctx.to_json(),
            prohibit_rollback=sub.template.prohibit_rollback,
            trace_id=sub.trace_id,
            version=0,
            created_at=now,
            start_time=now,
            updated_at=now,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    task_id = int(pk[0])
    ctx.put("task_instance_id", task_id)
    conn.execute(update(task_instance).where(T.id == task_id).values(context=ctx.to_json()))
    if sub.locks:
        lockmod.acquire(conn, list(sub.locks), task_id, now)
    rows = [
        {
            "task_id": task_id,
            "series_id": spec.index,
            "name": spec.name,
            "class_name": spec.cls.key,
            "state": (SubtaskState.READY if not spec.upstreams else SubtaskState.PENDING).value,
            "operation": Operation.EXECUTE.value,
            "parallel_idx": spec.parallel_idx,
            "run_time": 1,
            "waiting": len(spec.upstreams),
            "upstreams": len(spec.upstreams),
            "params": json.dumps(dict(spec.params), sort_keys=True) if spec.params else None,
            "timeout": spec.cls.timeout,
            "retry_count": spec.cls.retry_count,
            "can_retry": spec.cls.can_retry,
            "can_rollback": spec.cls.can_rollback,
            "can_skip": spec.cls.can_skip,
            "can_cancel": spec.cls.can_cancel,
            "continue_after_crash": spec.cls.continue_after_crash,
            "prohibit_rollback": spec.cls.prohibit_rollback,
            "version": 0,
            "created_at": now,
            "updated_at": now,
        }
        for spec in specs
    ]
    conn.execute(insert(subtask_instance), rows)
    ids = {r.series_id: r.id for r in conn.execute(select(S.series_id, S.id).where(S.task_id == task_id))}
    edges = [
        {"parent_id": ids[up], "child_id": ids[spec.index], "task_id": task_id}
        for spec in specs
        for up in spec.upstreams
    ]
    if edges:
        conn.execute(insert(subtask_dependency), edges)
    return task_id


# --- claiming and running ---------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    task_id: int
    name: str
    class_name: str
    operation: str
    run_time: int
    retry_count: int
    timeout: int
    version: int
    log_id: int | None
    context: Context
    started_at: int
    params: dict[str, str] = field(default_factory=dict)


async def ready_candidates(
    db: Database, classes: list[str], exclude: Iterable[int], limit: int
) -> list[tuple[int, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(S.id, S.version)
            .where(S.state == SubtaskState.READY.value, S.class_name.in_(classes))
            .order_by(S.id)
            .limit(limit + len(set(exclude)))
        )
        skip = set(exclude)
        return [(r.id, r.version) for r in rows if r.id not in skip][:limit]


CLAIM_COLUMNS = (
    S.id,
    S.version,
    S.task_id,
    S.name,
    S.class_name,
    S.operation,
    S.run_time,
    S.retry_count,
    S.timeout,
    S.parallel_idx,
    S.upstreams,
    S.params,
)


def _claim_statement(guard: Any) -> Any:
    return (
        update(subtask_instance)
        .where(S.id == bindparam("b_id"), guard, S.version == bindparam("b_version"))
        .values(
            state=SubtaskState.RUNNING.value,
            owner=bindparam("b_owner"),
            executor=bindparam("b_owner"),
            version=bindparam("b_version", type_=Integer) + 1,
            lease_expire_at=bindparam("b_lease"),
            deadline_at=bindparam("b_deadline"),
            start_time=bindparam("b_now"),
            end_time=None,
            updated_at=bindparam("b_now"),
        )
    )


_CLAIM_READY = _claim_statement(S.state == SubtaskState.READY.value)
_CLAIM_PENDING = _claim_statement(and_(S.state == SubtaskState.PENDING.value, S.waiting == 0))
_CHILDREN_OF = select(*CLAIM_COLUMNS, S.waiting, S.state).where(
    S.id.in_(select(D.child_id).where(D.parent_id == bindparam("b_parent")))
)


def claim(
    conn: Connection,
    sid: int,
    version: int,
    owner: str,
    lease_ms: int,
    classes: frozenset[str] | None = None,
    row: Any = None,
    parent_output: Context | None = None,
    from_pending: bool = False,
) -> Claimed | None:
    """READY → RUNNING for `owner` iff nobody else moved it; opens this run's log and computes its input.
    `row` (CLAIM_COLUMNS, read in the same transaction) saves a query."""
    now = now_ms()
    if row is None:
        row = (
            conn.execute(
                select(*CLAIM_COLUMNS).where(
                    S.id == sid, S.state == SubtaskState.READY.value, S.version == version
                )
            )
        ).first()
    if row is None or (classes is not None and row.class_name not in classes):
        return None
    # A subtask promoted in this same transaction is claimed straight from PENDING (once nothing waits).
    won = conn.execute(
        _CLAIM_PENDING if from_pending else _CLAIM_READY,
        {
            "b_id": sid,
            "b_version": version,
            "b_owner": owner,
            "b_lease": now + lease_ms,
            "b_deadline": now + row.timeout * 1000,
            "b_now": now,
        },
    )
    if won.rowcount != 1:
        return None
    # A root gets the task argument; any other subtask the merge of its upstreams' outputs (which carry
    # the argument on, as every output starts from its input).
    try:
        own = (
            conn.scalar(select(S.context).where(S.id == sid))
            if row.operation == Operation.ROLLBACK.value
            else None
        )
        if own:
            # Undoing a step needs what the step recorded when it ran (e.g. "this task stopped zone z1"),
            # which is in its own output, not in its upstreams'.
            ctx = Context.from_json(own)
        elif parent_output is not None and row.upstreams == 1:
            ctx = parent_output.copy()
        else:
            ctx = input_context(conn, sid, row.task_id)
    except ObcpError as exc:
        # Upstream outputs that contradict each other fail this subtask, for an operator to look at.
        conn.execute(
            update(subtask_instance)
            .where(S.id == sid, S.version == version + 1)
            .values(
                state=SubtaskState.FAILED.value,
                owner=None,
                lease_expire_at=None,
                version=version + 2,
                error=exc.message[:1000],
                end_time=now,
            )
        )
        text = "\n".join(
            (header(row.operation, now), exc.message, state_line(sid, SubtaskState.RUNNING.value, "FAILED"))
        )
        conn.execute(
            insert(subtask_log).values(
                subtask_id=sid,
                run_time=row.run_time,
                operation=row.operation,
                content=text,
                created_at=now,
                updated_at=now,
            )
        )
        advance(conn, row.task_id)
        return None
    ctx.parallel_idx = row.parallel_idx
    ctx.put("latest_execution_start_time", iso_ms(now))
    # The run's log row is written at the first flush or at the end, which saves a statement per run.
    return Claimed(
        id=sid,
        task_id=row.task_id,
        name=row.name,
        class_name=row.class_name,
        operation=row.operation,
        run_time=row.run_time,
        retry_count=row.retry_count,
        timeout=row.timeout,
        version=version + 1,
        log_id=None,
        context=ctx,
        started_at=now,
        params=json.loads(row.params) if row.params else {},
    )


def _pk(result: Any) -> int:
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def input_context(conn: Connection, sid: int, task_id: int, *, strict: bool = True) -> Context:
    parents = (
        (
            conn.execute(
                select(S.context)
                .select_from(subtask_dependency.join(subtask_instance, S.id == D.parent_id))
                .where(D.child_id == sid)
                .order_by(S.id)
            )
        )
        .scalars()
        .all()
    )
    if parents:
        return merge([Context.from_json(p) for p in parents], strict=strict)
    return Context.from_json(conn.scalar(select(T.context).where(T.id == task_id)))


def heartbeat(conn: Connection, owner: str, runs: dict[int, int], lease_ms: int) -> tuple[set[int], set[int]]:
    """Extend the leases of these runs ({id: version}); returns (lost, cancel requested)."""
    now = now_ms()
    lost: set[int] = set()
    for sid, version in runs.items():
        res = conn.execute(
            update(subtask_instance)
            .where(S.id == sid, S.owner == owner, S.version == version, S.state.in_(LEASED_VALUES))
            .values(lease_expire_at=now + lease_ms)
        )
        if res.rowcount != 1:
            lost.add(sid)
    canceling: set[int] = set()
    if runs:
        canceling = set(
            (
                conn.execute(
                    select(S.id).where(S.id.in_(list(runs)), S.state == SubtaskState.CANCELING.value)
                )
            ).scalars()
        )
    return lost, canceling - lost


def write_log(conn: Connection, log_id: int, content: str) -> None:
    conn.execute(_UPDATE_LOG, {"b_id": log_id, "b_content": content, "b_now": now_ms()})


def save_run_log(conn: Connection, run: Claimed, content: str) -> None:
    """Write a run's log text: its row is created the first time (the caller serialises per run)."""
    if run.log_id is not None:
        write_log(conn, run.log_id, content)
        return
    now = now_ms()
    res = conn.execute(
        _INSERT_LOG,
        {
            "subtask_id": run.id,
            "run_time": run.run_time,
            "operation": run.operation,
            "content": content,
            "created_at": now,
            "updated_at": now,
        },
    )
    run.log_id = _pk(res)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None
    canceled: bool = False
    context: Context | None = None


@dataclass
class Finished:
    won: bool
    state: str = ""
    task_state: str = ""
    claimed: list[Claimed] = field(default_factory=list)


def finish(
    conn: Connection,
    run: Claimed,
    owner: str,
    outcome: Outcome,
    log_text: str,
    *,
    claim_room: int = 0,
    lease_ms: int = 30_000,
    classes: frozenset[str] = frozenset(),
) -> Finished:
    """Record a run's result, fenced by owner and version, settle the task, and claim up to `claim_room`
    subtasks it made READY (or other READY ones of the task) for the same owner in the same transaction."""
    now = now_ms()
    _lock_task(conn, run.task_id)
    rolling_back = run.operation == Operation.ROLLBACK.value
    values: dict[str, Any] = {
        "owner": None,
        "lease_expire_at": None,
        "deadline_at": None,
        "end_time": now,
        "updated_at": now,
        "version": run.version + 1,
    }
    auto_retry = False
    out: Context | None = None
    if outcome.ok:
        new_state = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
        values["error"] = None
        if not rolling_back and outcome.context is not None:
            out = outcome.context.copy()
            for key in TRANSIENT_KEYS:
                out.string_map.pop(key, None)
            values["context"] = out.to_json()
    else:
        new_state = SubtaskState.FAILED
        values["error"] = (outcome.error or "failed")[:1000]
        if outcome.canceled:
            values["operation"] = Operation.CANCEL.value
        elif not rolling_back and run.run_time <= run.retry_count:
            auto_retry = True
    line = state_line(run.id, SubtaskState.RUNNING.value, new_state.value)
    if auto_retry:
        values.update(
            state=SubtaskState.READY.value, operation=Operation.RETRY.value, run_time=run.run_time + 1
        )
        line += f"\nAutomatic retry {run.run_time}/{run.retry_count}"
    else:
        values["state"] = new_state.value
    res = conn.execute(
        _FINISH,
        {
            "b_id": run.id,
            "b_owner": owner,
            "b_version": run.version,
            "b_state": values["state"],
            "b_operation": values.get("operation"),
            "b_run_time": values.get("run_time"),
            "b_context": values.get("context"),
            "b_error": values.get("error"),
            "b_now": now,
        },
    )
    if res.rowcount != 1:
        return Finished(False)
    save_run_log(conn, run, f"{log_text}\n{line}" if log_text else line)
    promoted: list[Any] = []
    if new_state is SubtaskState.SUCCESSFUL and not auto_retry:
        promoted = _entered_successful(conn, run.id, defer=claim_room > 0)
    elif new_state is SubtaskState.PENDING:
        _promote_rollback_parents(conn, run.id)
    result = Finished(True, values["state"], TaskState.RUNNING.value)
    if promoted:  # deferred: claim what there is room for, make the rest READY for anyone
        for row in promoted[:claim_room]:
            claimed = claim(conn, row.id, row.version, owner, lease_ms, classes, row, out, from_pending=True)
            if claimed is not None:
                result.claimed.append(claimed)
        taken = {c.id for c in result.claimed}
        _make_ready(conn, [r.id for r in promoted if r.id not in taken])
        return result  # the task is RUNNING: it has live or READY subtasks
    # While a run is live its task is RUNNING, in rollback mode exactly when the run is a rollback.
    result.task_state = advance(conn, run.task_id, known=(TaskState.RUNNING.value, rolling_back))
    if claim_room > 0 and not promoted and result.task_state == TaskState.RUNNING.value:
        more = conn.execute(
            select(*CLAIM_COLUMNS)
            .where(S.task_id == run.task_id, S.state == SubtaskState.READY.value, S.class_name.in_(classes))
            .limit(claim_room)
        )
        for row in more.all():
            claimed = claim(conn, row.id, row.version, owner, lease_ms, classes, row)
            if claimed is not None:
                result.claimed.append(claimed)
    return result


# --- task bookkeeping -------------------------------------------------------------------------------------


def _lock_task(conn: Connection, task_id: int) -> None:
    res = conn.execute(_LOCK_TASK, {"b_task": task_id})
    if res.rowcount != 1:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)


def _entered_successful(conn: Connection, sid: int, defer: bool = False) -> list[Any]:
    """A subtask became SUCCESSFUL: its children wait for one upstream less; those waiting for none start.
    Returns them (CLAIM_COLUMNS): READY with their new version, or, with `defer`, still PENDING for the
    caller to claim or make READY in the same transaction."""
    children = conn.execute(_CHILDREN_OF, {"b_parent": sid}).all()
    if not children:
        return []
    conn.execute(_WAITING_DOWN, {"b_ids": [c.id for c in children]})
    # The task row lock serialises this read-then-write with every other transition of the task.
    ready = [
        c
        for c in children
        if c.waiting == 1
        and c.state == SubtaskState.PENDING.value
        and c.operation != Operation.ROLLBACK.value
    ]
    if defer or not ready:
        return ready
    _make_ready(conn, [r.id for r in ready])
    return [_bumped(r) for r in ready]


def _make_ready(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(
            update(subtask_instance)
            .where(S.id.in_(ids), S.state == SubtaskState.PENDING.value)
            .values(state=SubtaskState.READY.value, version=S.version + 1, updated_at=now_ms())
        )


def _bumped(row: Any) -> Any:
    """The row as it is after the promotion bumped its version."""
    values = row._asdict()
    values["version"] += 1
    return SimpleNamespace(**values)


def _left_successful(conn: Connection, sids: list[int]) -> None:
    if not sids:
        return
    for sid in sids:
        children = list((conn.execute(select(D.child_id).where(D.parent_id == sid))).scalars())
        if children:
            conn.execute(update(subtask_instance).where(S.id.in_(children)).values(waiting=S.waiting + 1))


def _promote_rollback_parents(conn: Connection, sid: int) -> None:
    """In a rollback, a subtask whose downstreams are all PENDING again is rolled back next."""
    parents = list((conn.execute(select(D.parent_id).where(D.child_id == sid))).scalars())
    _promote_rollback(conn, parents)


def _promote_rollback(conn: Connection, candidates: list[int]) -> None:
    if not candidates:
        return
    child = subtask_instance.alias("child")
    busy_children = (
        select(D.parent_id)
        .select_from(subtask_dependency.join(child, child.c.id == D.child_id))
        .where(D.parent_id.in_(candidates), child.c.state != SubtaskState.PENDING.value)
    )
    rows = (
        conn.execute(
            select(S.id, S.state).where(
                S.id.in_(candidates),
                S.operation == Operation.ROLLBACK.value,
                S.state.in_((SubtaskState.SUCCESSFUL.value, SubtaskState.FAILED.value)),
                S.id.not_in(busy_children),
            )
        )
    ).all()
    if not rows:
        return
    ids = [r.id for r in rows]
    conn.execute(
        update(subtask_instance)
        .where(S.id.in_(ids), S.state.in_((SubtaskState.SUCCESSFUL.value, SubtaskState.FAILED.value)))
        .values(state=SubtaskState.READY.value, version=S.version + 1, updated_at=now_ms())
    )
    _left_successful(conn, [r.id for r in rows if r.state == SubtaskState.SUCCESSFUL.value])


def advance(conn: Connection, task_id: int, known: tuple[str, bool] | None = None) -> str:
    """Settle the task's state from its subtasks: RUNNING while any is active, else SUCCESSFUL or FAILED.
    `known` = (current state, in rollback) when the caller knows them, to save a query."""
    if known is None:
        row = (conn.execute(select(T.state, T.operation).where(T.id == task_id))).one()
        current, rolling_back = row.state, row.operation == Operation.ROLLBACK.value
    else:
        current, rolling_back = known
    active = conn.scalar(select(S.id).where(S.task_id == task_id, S.state.in_(ACTIVE)).limit(1))
    now = now_ms()
    if active is not None:
        new = TaskState.RUNNING.value
    else:
        done = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
        left = conn.scalar(select(S.id).where(S.task_id == task_id, S.state != done.value).limit(1))
        new = TaskState.SUCCESSFUL.value if left is None else TaskState.FAILED.value
    if new != current:
        values: dict[str, Any] = {"state": new, "updated_at": now}
        values["end_time"] = None if new == TaskState.RUNNING.value else now
        conn.execute(update(task_instance).where(T.id == task_id).values(**values))
    if new == TaskState.SUCCESSFUL.value:
        conn.execute(delete(resource_lock).where(resource_lock.c.task_id == task_id))
    return new


# --- recovery ---------------------------------------------------------------------------------------------


async def expired(db: Database, now: int, owner_restarted: str | None, limit: int = 200) -> list[Any]:
    """Leased runs whose lease ran out (or whose owner is this server in a previous life, at start-up)."""
    cond = and_(S.state.in_(LEASED_VALUES), S.lease_expire_at < now)
    if owner_restarted is not None:
        cond = and_(S.state.in_(LEASED_VALUES), (S.lease_expire_at < now) | (S.owner == owner_restarted))
    async with db.read() as conn:
        return list(
            (await conn.execute(select(S.id, S.task_id, S.version, S.owner).where(cond).limit(limit))).all()
        )


async def overdue(db: Database, now: int, grace_ms: int, limit: int = 200) -> list[Any]:
    async with db.read() as conn:
        return list(
            (
                await conn.execute(
                    select(S.id, S.task_id, S.version, S.owner)
                    .where(S.state == SubtaskState.RUNNING.value, S.deadline_at < now - grace_ms)
                    .limit(limit)
                )
            ).all()
        )


def interrupt(
    conn: Connection, sid: int, version: int, task_id: int, reason: str, *, timed_out: bool = False
) -> bool:
    """Take a leased run away from its (dead, stuck or overdue) owner: run it again if it is safe to repeat,
    else FAILED with the reason, for an operator to retry or skip."""
    now = now_ms()
    _lock_task(conn, task_id)
    row = (
        conn.execute(
            select(S.state, S.operation, S.run_time, S.continue_after_crash).where(
                S.id == sid, S.version == version, S.state.in_(LEASED_VALUES)
            )
        )
    ).first()
    if row is None:
        return False
    rerun = row.continue_after_crash and row.state == SubtaskState.RUNNING.value and not timed_out
    values: dict[str, Any] = {
        "owner": None,
        "lease_expire_at": None,
        "deadline_at": None,
        "version": version + 1,
        "updated_at": now,
    }
    if rerun:
        values.update(state=SubtaskState.READY.value, run_time=row.run_time + 1, end_time=None)
        line = f"{reason}; the subtask is safe to repeat and runs again"
    else:
        values.update(state=SubtaskState.FAILED.value, error=reason[:1000], end_time=now)
        if row.state == SubtaskState.CANCELING.value:
            values["operation"] = Operation.CANCEL.value
        line = f"{reason}\n{state_line(sid, row.state, SubtaskState.FAILED.value, row.operation)}"
    res = conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.version == version, S.state.in_(LEASED_VALUES))
        .values(**values)
    )
    if res.rowcount != 1:
        return False
    append_log_line(conn, sid, line, row.run_time, row.operation)
    advance(conn, task_id)
    return True


def append_log_line(conn: Connection, sid: int, line: str, run_time: int, operation: str) -> None:
    """Add a line to the log of the subtask's current run (creating it if the run never flushed one)."""
    last = (
        conn.execute(
            select(L.id, L.content, L.run_time).where(L.subtask_id == sid).order_by(L.id.desc()).limit(1)
        )
    ).first()
    if last is not None and last.run_time == run_time:
        write_log(conn, last.id, f"{last.content}\n{line}")
        return
    now = now_ms()
    conn.execute(
        insert(subtask_log).values(
            subtask_id=sid,
            run_time=run_time,
            operation=operation,
            content=f"{header(operation, now)}\n{line}",
            created_at=now,
            updated_at=now,
        )
    )


# --- operator actions -------------------------------------------------------------------------------------


def _task_row(conn: Connection, task_id: int) -> Any:
    row = (conn.execute(select(task_instance).where(T.id == task_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    return row


def _subtask_row(conn: Connection, task_id: int, sid: int) -> Any:
    row = (conn.execute(select(subtask_instance).where(S.id == sid, S.task_id == task_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.SUBTASK_NOT_FOUND, sid, task_id)
    return row


def retry_task(conn: Connection, task_id: int) -> None:
    """Re-run every FAILED subtask (OCP: task FAILED and not rolling back)."""
    _lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    if task.state != TaskState.FAILED.value or task.operation == Operation.ROLLBACK.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, task_id, f"{task.state}/{task.operation}")
    failed = (
        conn.execute(
            select(S.id, S.can_retry).where(S.task_id == task_id, S.state == SubtaskState.FAILED.value)
        )
    ).all()
    for row in failed:
        if not row.can_retry:
            raise ObcpError(ErrorCode.SUBTASK_RETRY_PROHIBITED, row.id)
    now = now_ms()
    conn.execute(
        update(subtask_instance)
        .where(S.task_id == task_id, S.state == SubtaskState.FAILED.value)
        .values(
            state=SubtaskState.READY.value,
            operation=Operation.RETRY.value,
            run_time=S.run_time + 1,
            version=S.version + 1,
            error=None,
            end_time=None,
            updated_at=now,
        )
    )
    conn.execute(
        update(task_instance).where(T.id == task_id).values(operation=Operation.RETRY.value, updated_at=now)
    )
    advance(conn, task_id)


def rollback_prohibited(conn: Connection, task: Any) -> bool:
    if task.prohibit_rollback or Context.from_json(task.context).get("prohibit_rollback") == "true":
        return True
    started = conn.scalar(
        select(S.id)
        .where(
            S.task_id == task.id,
            S.prohibit_rollback.is_(True),
            S.state.not_in((SubtaskState.PENDING.value, SubtaskState.READY.value)),
        )
        .limit(1)
    )
    return started is not None


def rollback_task(conn: Connection, task_id: int) -> None:
    """Give up: undo every subtask that ran, from the failure back to the roots (OCP: task FAILED)."""
    _lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    if task.state != TaskState.FAILED.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, task_id, task.state)
    if rollback_prohibited(conn, task):
        raise ObcpError(ErrorCode.TASK_ROLLBACK_PROHIBITED, task_id)
    now = now_ms()
    conn.execute(
        update(subtask_instance)
        .where(S.task_id == task_id, S.state != SubtaskState.PENDING.value)
        .values(operation=Operation.ROLLBACK.value, updated_at=now)
    )
    conn.execute(
        update(task_instance)
        .where(T.id == task_id)
        .values(operation=Operation.ROLLBACK.value, updated_at=now)
    )
    candidates = list(
        (
            conn.execute(select(S.id).where(S.task_id == task_id, S.state != SubtaskState.PENDING.value))
        ).scalars()
    )
    _promote_rollback(conn, candidates)
    advance(conn, task_id)


def retry_subtask(conn: Connection, task_id: int, sid: int) -> None:
    _lock_task(conn, task_id)
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.FAILED.value or row.operation == Operation.ROLLBACK.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", f"{row.state}/{row.operation}")
    if not row.can_retry:
        raise ObcpError(ErrorCode.SUBTASK_RETRY_PROHIBITED, sid)
    now = now_ms()
    conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.state == SubtaskState.FAILED.value, S.version == row.version)
        .values(
            state=SubtaskState.READY.value,
            operation=Operation.RETRY.value,
            run_time=S.run_time + 1,
            version=S.version + 1,
            error=None,
            end_time=None,
            updated_at=now,
        )
    )
    advance(conn, task_id)


def skip_subtask(conn: Connection, task_id: int, sid: int, by: str) -> None:
    """Mark a FAILED subtask done without running it: SUCCESSFUL going forward, PENDING in a rollback."""
    _lock_task(conn, task_id)
    task = _task_row(conn, task_id)
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.FAILED.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", row.state)
    if not row.can_skip:
        raise ObcpError(ErrorCode.SUBTASK_SKIP_PROHIBITED, sid)
    now = now_ms()
    rolling_back = task.operation == Operation.ROLLBACK.value
    new = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
    # A skipped step produced nothing: its downstreams get its input as its output.
    passed_on = input_context(conn, sid, task_id, strict=False).to_json() if not rolling_back else row.context
    conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.state == SubtaskState.FAILED.value, S.version == row.version)
        .values(
            context=passed_on,
            state=new.value,
            operation=Operation.SKIP.value,
            version=S.version + 1,
            error=None,
            end_time=now,
            updated_at=now,
        )
    )
    text = "\n".join(
        (header(Operation.SKIP.value, now), f"Skipped by {by}", state_line(sid, row.state, new.value))
    )
    conn.execute(
        insert(subtask_log).values(
            subtask_id=sid,
            run_time=row.run_time,
            operation=Operation.SKIP.value,
            content=text,
            created_at=now,
            updated_at=now,
        )
    )
    if rolling_back:
        _promote_rollback_parents(conn, sid)
    else:
        _entered_successful(conn, sid)
    advance(conn, task_id)


def cancel_subtask(conn: Connection, task_id: int, sid: int) -> Any:
    """RUNNING → CANCELING; the owner (told by its heartbeat, or at once when local) interrupts the run."""
    row = _subtask_row(conn, task_id, sid)
    if row.state != SubtaskState.RUNNING.value:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", row.state)
    if not row.can_cancel:
        raise ObcpError(ErrorCode.SUBTASK_CANCEL_PROHIBITED, sid)
    # The version stays: it is the running owner's fencing token, and the owner records the cancellation.
    res = conn.execute(
        update(subtask_instance)
        .where(S.id == sid, S.state == SubtaskState.RUNNING.value, S.version == row.version)
        .values(state=SubtaskState.CANCELING.value, updated_at=now_ms())
    )
    if res.rowcount != 1:
        raise ObcpError(ErrorCode.TASK_STATE_INVALID, f"{task_id}/{sid}", "changing")
    return row


# --- reads ------------------------------------------------------------------------------------------------


async def read_log(conn: AsyncConnection, task_id: int, sid: int) -> str:
    if await conn.scalar(select(S.id).where(S.id == sid, S.task_id == task_id)) is None:
        raise ObcpError(ErrorCode.SUBTASK_NOT_FOUND, sid, task_id)
    chunks = (await conn.execute(select(L.content).where(L.subtask_id == sid).order_by(L.id))).scalars().all()
    return "\n".join(chunks)
