"""Every state transition of tasks and subtasks, each a short transaction of guarded updates.

Rules kept by every function here:
- A transaction that changes a task's subtasks first bumps the task row's version (`task_state.lock_task`).
  That row lock serialises them per task on PostgreSQL and MySQL (SQLite's BEGIN IMMEDIATE serialises
  everything), so a join node finished by two replicas at once is still promoted exactly once.
- A subtask update names the state (and for leased work the owner and version) it expects, and its rowcount
  says whether it won. `version` is bumped whenever ownership changes, so it fences out a stale runner.
- `waiting` on a subtask counts its upstreams that are not SUCCESSFUL (see `promotion`).

Modules: `transactions` (the write transaction and SQLite's writer thread), `submission`, `claims` (claims
and leases), `results` (a run's result and what it unblocks), `promotion`, `task_state`, `actions` (an
operator's retry, rollback, skip and cancel), `recovery` and `run_logs`. Only the scheduler uses this
package; everything else goes through `obcp.engine`.
"""

from obcp.engine.store.actions import cancel_subtask, retry_subtask, retry_task, rollback_task, skip_subtask
from obcp.engine.store.claims import Claimed, claim, heartbeat, ready_candidates
from obcp.engine.store.recovery import expired, interrupt, overdue
from obcp.engine.store.results import Finished, Outcome, finish
from obcp.engine.store.run_logs import append_log_line, save_run_log
from obcp.engine.store.submission import Submission, submit
from obcp.engine.store.task_state import settle_task_state
from obcp.engine.store.transactions import in_tx

__all__ = [
    "Claimed",
    "Finished",
    "Outcome",
    "Submission",
    "append_log_line",
    "cancel_subtask",
    "claim",
    "expired",
    "finish",
    "heartbeat",
    "in_tx",
    "interrupt",
    "overdue",
    "ready_candidates",
    "retry_subtask",
    "retry_task",
    "rollback_task",
    "save_run_log",
    "settle_task_state",
    "skip_subtask",
    "submit",
]
