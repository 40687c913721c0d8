"""A run's result: recorded fenced by owner and version, its downstreams promoted, the task settled, and
the next subtasks claimed for the same owner, all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, Text, bindparam, case, func, select, update
from sqlalchemy.engine import Connection

from obcp.engine.context import TRANSIENT_KEYS, Context
from obcp.engine.logs import state_line
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.store.claims import Claimant, Claimed, claim_rows
from obcp.engine.store.columns import ACTIVE, LEASED_VALUES, TASK_VERSION_NOW, S, one_of
from obcp.engine.store.promotion import (
    CLAIM_COLUMNS,
    entered_successful,
    make_ready,
    promote_rollback_parents,
)
from obcp.engine.store.run_logs import save_run_log
from obcp.engine.store.task_state import lock_task, settle_task_state
from obcp.meta.db import now_ms
from obcp.meta.task_tables import subtask_instance

_FINISH = (
    update(subtask_instance)
    .where(
        S.id == bindparam("b_id"),
        S.owner == bindparam("b_owner"),
        S.version == bindparam("b_version"),
        one_of(S.state, LEASED_VALUES),
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
        task_version=TASK_VERSION_NOW,
    )
)


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


@dataclass(frozen=True)
class _Result:
    """The subtask row as a result leaves it (None: the column keeps its value), and its log line."""

    state: SubtaskState
    line: str
    operation: str | None = None
    run_time: int | None = None
    output: Context | None = None
    error: str | None = None


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
    """Record a run's result (`log_text` is the run's log, without its header), settle the task, and claim
    up to `claim_room` subtasks it made READY (or other READY ones of the task) for the same owner."""
    lock_task(conn, run.task_id)
    result = _result_of(run, outcome)
    if not _record(conn, run, owner, result):
        return Finished(False)
    save_run_log(conn, run, f"{log_text}\n{result.line}" if log_text else result.line)
    done = Finished(True, result.state.value, TaskState.RUNNING.value)
    who = Claimant(owner, lease_ms, classes)
    promoted = _promote_downstreams(conn, run, result, defer=claim_room > 0)
    if promoted:  # deferred: claim what there is room for, make the rest READY for anyone
        room = promoted[:claim_room]
        done.claimed = claim_rows(conn, room, who, promoted=True, parent_output=result.output)
        taken = {c.id for c in done.claimed}
        make_ready(conn, [r.id for r in promoted if r.id not in taken])
        return done  # the task is RUNNING: it has live or READY subtasks
    active = _active_of_task(conn, run.task_id, claim_room)
    if active:  # still RUNNING: claim what is READY of it (most often nothing: its siblings still run)
        ready = [r for r in active if r.state == SubtaskState.READY.value and r.class_name in classes]
        done.claimed = claim_rows(conn, ready[:claim_room], who) if claim_room > 0 else []
        return done
    # While a run is live its task is RUNNING, in rollback mode exactly when the run is a rollback.
    rolling_back = run.operation == Operation.ROLLBACK.value
    done.task_state = settle_task_state(conn, run.task_id, known=(TaskState.RUNNING.value, rolling_back))
    return done


def _result_of(run: Claimed, outcome: Outcome) -> _Result:
    """Success ends SUCCESSFUL (a rollback run PENDING); a failure FAILED, or READY again while automatic
    retries are left."""
    rolling_back = run.operation == Operation.ROLLBACK.value
    if outcome.ok:
        new = SubtaskState.PENDING if rolling_back else SubtaskState.SUCCESSFUL
        output = None if rolling_back else _output(outcome.context)
        return _Result(new, state_line(run.id, SubtaskState.RUNNING.value, new.value), output=output)
    error = (outcome.error or "failed")[:1000]
    line = state_line(run.id, SubtaskState.RUNNING.value, SubtaskState.FAILED.value)
    if outcome.canceled:
        return _Result(SubtaskState.FAILED, line, operation=Operation.CANCEL.value, error=error)
    if not rolling_back and run.run_time <= run.retry_count:
        return _Result(
            SubtaskState.READY,
            f"{line}\nAutomatic retry {run.run_time}/{run.retry_count}",
            operation=Operation.RETRY.value,
            run_time=run.run_time + 1,
            error=error,
        )
    return _Result(SubtaskState.FAILED, line, error=error)


def _output(context: Context | None) -> Context | None:
    """What a successful run passes on: its context without the keys that only mean something in a run."""
    if context is None:
        return None
    out = context.copy()
    for key in TRANSIENT_KEYS:
        out.string_map.pop(key, None)
    return out


def _record(conn: Connection, run: Claimed, owner: str, result: _Result) -> bool:
    """The fenced write of the result: False when the run is no longer this owner's."""
    res = conn.execute(
        _FINISH,
        {
            "b_id": run.id,
            "b_owner": owner,
            "b_version": run.version,
            "b_state": result.state.value,
            "b_operation": result.operation,
            "b_run_time": result.run_time,
            "b_context": result.output.to_json() if result.output is not None else None,
            "b_error": result.error,
            "b_now": now_ms(),
        },
    )
    return bool(res.rowcount == 1)


def _promote_downstreams(conn: Connection, run: Claimed, result: _Result, *, defer: bool) -> list[Any]:
    if result.state is SubtaskState.SUCCESSFUL:
        return entered_successful(conn, run.id, defer=defer)
    if result.state is SubtaskState.PENDING:
        promote_rollback_parents(conn, run.id)
    return []


def _active_of_task(conn: Connection, task_id: int, claim_room: int) -> list[Any]:
    """The task's active subtasks, READY ones first (up to `claim_room` of them, at least one row): one
    query answers both "is the task still RUNNING" and "what could this owner claim next"."""
    return list(conn.execute(_ACTIVE_OF_TASK, {"b_task": task_id, "b_limit": max(1, claim_room)}).all())


_ACTIVE_OF_TASK = (
    select(*CLAIM_COLUMNS, S.state)
    .where(S.task_id == bindparam("b_task"), one_of(S.state, ACTIVE))
    .order_by(case((S.state == SubtaskState.READY.value, 0), else_=1), S.id)
    .limit(bindparam("b_limit", type_=Integer))
)
