"""The lifecycle of cluster, zone and server operations: which statuses an operation may start from, the
status it shows while it runs, and the one it leaves — the one table every status writer reads.

An operation kind moves each level it acts on the same way: the submit refuses a status not in
`allowed_from`; the "Prepare …" step sets `during` (its rollback puts back the status it found); the
"Update … status" step sets `on_success` (its rollback puts back `during`). A failed step changes no
status: the level keeps `during` until an operator retries, skips or rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from obcp.meta.statuses import ClusterStatus, InnerStatus, ServerStatus, ZoneStatus


class Kind(StrEnum):
    RESTART = "restart"
    START = "start"
    STOP = "stop"


class Scope(StrEnum):
    """What an operation names in its path: the whole cluster, one zone, or one server."""

    CLUSTER = "cluster"
    ZONE = "zone"
    SERVER = "server"


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[str, ...]
    during: str
    on_success: str
    # What OceanBase reports of a zone or server afterwards (clusters have none).
    inner_on_success: InnerStatus | None = None
    # The level gets back the status it had before (`on_success` when that is unknown): a restart gives
    # a cluster back as it was.
    restores_former: bool = False


C, Z, S = ClusterStatus, ZoneStatus, ServerStatus
_UP = (C.RUNNING, C.UNAVAILABLE)

# Starting a RUNNING cluster is refused rather than run as a no-op: an observer that died under a RUNNING
# cluster is brought back by a restart, whose stop step accepts a process already gone.
CLUSTER: dict[Kind, Transition] = {
    Kind.RESTART: Transition(_UP, C.RESTARTING, C.RUNNING, restores_former=True),
    Kind.START: Transition((C.STOPPED, C.UNAVAILABLE), C.STARTING, C.RUNNING),
    Kind.STOP: Transition(_UP, C.STOPPING, C.STOPPED),
}
ZONE: dict[Kind, Transition] = {
    Kind.RESTART: Transition((Z.RUNNING, Z.UNAVAILABLE), Z.RESTARTING, Z.RUNNING, InnerStatus.ACTIVE),
    Kind.START: Transition((Z.STOPPED, Z.UNAVAILABLE), Z.STARTING, Z.RUNNING, InnerStatus.ACTIVE),
    Kind.STOP: Transition((Z.RUNNING, Z.UNAVAILABLE), Z.STOPPING, Z.STOPPED, InnerStatus.INACTIVE),
}
SERVER: dict[Kind, Transition] = {
    Kind.RESTART: Transition(
        (S.RUNNING, S.UNAVAILABLE, S.PROCESS_STOPPED, S.STOPPED), S.RESTARTING, S.RUNNING, InnerStatus.ACTIVE
    ),
    Kind.START: Transition(
        (S.STOPPED, S.PROCESS_STOPPED, S.SERVICE_STOPPED, S.UNAVAILABLE),
        S.STARTING,
        S.RUNNING,
        InnerStatus.ACTIVE,
    ),
    Kind.STOP: Transition((S.RUNNING, S.UNAVAILABLE), S.STOPPING, S.STOPPED, InnerStatus.INACTIVE),
}
TRANSITIONS: dict[Scope, dict[Kind, Transition]] = {
    Scope.CLUSTER: CLUSTER,
    Scope.ZONE: ZONE,
    Scope.SERVER: SERVER,
}

# A zone or server is stopped or started only while its cluster runs (a stopped cluster is started whole).
CLUSTER_UP: tuple[str, ...] = _UP


def transition(scope: Scope, kind: Kind | str) -> Transition:
    return TRANSITIONS[scope][Kind(kind)]


def former(scope: Scope, found: str) -> str:
    """The status to give back on rollback: what the level had, unless a retry found the task's own
    in-operation status there (then RUNNING, as before any operation)."""
    busy = {t.during for t in TRANSITIONS[scope].values()}
    return str(C.RUNNING) if found in busy else found


def zone_after_server(kind: Kind, zone: str, servers: list[str]) -> ZoneStatus | None:
    """A zone's status after one of its servers stopped or started (None: it keeps `zone`): STOPPED once
    every server of the zone is stopped, RUNNING again as soon as one of a STOPPED zone runs."""
    if kind is Kind.STOP and all(s == S.STOPPED for s in servers):
        return Z.STOPPED
    if kind is Kind.START and zone == Z.STOPPED:
        return Z.RUNNING
    return None
