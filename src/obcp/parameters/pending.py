"""Which servers still run without a static parameter's change: those that have not restarted since.

A server is pending when its START_SERVICE_TIME now is the one it had when the change was applied (or
older). A server without a recorded start time is compared with the change's time instead, and one that
does not answer counts as pending: nothing shows that it runs with the new value.
"""

from __future__ import annotations

from obcp.parameters.reading import ServerState
from obcp.parameters.store import Change


def is_pending(change: Change, state: ServerState) -> bool:
    now = state.start_service_time
    if now is None or not state.answered:
        return True
    recorded = change.start_times.get(state.ref.id)
    if recorded is not None:
        return now <= recorded
    return now < change.changed_at * 1000


def pending_servers(change: Change, servers: list[ServerState]) -> list[ServerState]:
    return [s for s in servers if is_pending(change, s)]
