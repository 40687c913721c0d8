"""A parameter change request, whole or not at all: every entry checked against what the observers report
before anything is sent; then `ALTER SYSTEM SET` (once on a distributed cluster, on every server of a
standalone one), undone in reverse order if OceanBase refuses one; then the records in the metadb."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from obcp import audit
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import now_ms
from obcp.notify import outbox
from obcp.notify.events import PendingParameter
from obcp.ob.errors import ObSqlError
from obcp.ob.parameter_values import BadValue, check_value
from obcp.ob.parameters import Parameter, set_parameter, valid_name
from obcp.operations.services import OperationServices
from obcp.parameters import store
from obcp.parameters.reading import READ_TIMEOUTS, ClusterParameters, ServerState, read_cluster
from obcp.parameters.store import NewChange

Undo = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Wanted:
    name: str
    value: str


def checked(cluster: ClusterParameters, wanted: list[Wanted]) -> list[tuple[Parameter, str]]:
    """(parameter, value to send) for every entry, or ObcpError naming the first bad one (all of them in
    `subErrors`)."""
    errors: list[ObcpError] = []
    result: list[tuple[Parameter, str]] = []
    seen: set[str] = set()
    for w in wanted:
        p = cluster.parameters.get(w.name) if valid_name(w.name) else None
        if p is None:
            errors.append(ObcpError(ErrorCode.PARAMETER_NOT_FOUND, w.name))
        elif w.name in seen:
            errors.append(ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"name ({w.name} is given twice)"))
        elif p.readonly:
            errors.append(ObcpError(ErrorCode.PARAMETER_READONLY, w.name))
        else:
            try:
                result.append((p, check_value(p.data_type, p.value_range, w.value)))
            except BadValue as exc:
                errors.append(ObcpError(ErrorCode.PARAMETER_VALUE_INVALID, w.name, w.value, exc))
        seen.add(w.name)
    if errors:
        first = errors[0]
        raise ObcpError(
            first.error_code,
            *first.args_,
            sub_errors=[{"code": e.error_code.code, "message": e.message} for e in errors],
        )
    return result


async def apply_changes(
    services: OperationServices, cluster_id: int, wanted: list[Wanted], *, who: str, trace_id: str | None
) -> list[NewChange]:
    cluster = await read_cluster(services, cluster_id)
    down = [s for s in cluster.servers if not s.answered]
    if down:
        shown = "; ".join(f"server {s.ref.address}:{s.ref.sql_port} ({s.error})" for s in down)
        raise ObcpError(ErrorCode.CLUSTER_INACCESSIBLE, f"{shown}. Nothing was changed")
    entries = checked(cluster, wanted)
    changes = [
        NewChange(p.name, _old_value(p.name, cluster.servers), value, p.need_restart, _start_times(cluster))
        for p, value in entries
    ]
    undo: list[Undo] = []
    try:
        for p, value in entries:
            await _set_everywhere(services, cluster, p.name, value, undo)
    except ObSqlError as exc:
        for step in reversed(undo):
            await step()
        raise ObcpError(
            ErrorCode.PARAMETER_VALUE_INVALID,
            _failed_name(exc, entries),
            _failed_value(exc, entries),
            f"OceanBase refused it ({exc.ob_message}, error {exc.errno}); nothing was changed",
        ) from exc
    pending = [
        PendingParameter(c.name, c.old_value, c.new_value, tuple(sorted(c.start_times)))
        for c in changes
        if c.need_restart
    ]
    async with services.db.tx() as conn:
        await store.record(conn, cluster_id, changes, changed_by=who, changed_at=now_ms(), trace_id=trace_id)
        await audit.record(conn)
        # In the same transaction: channels hear of exactly the changes that were recorded.
        await conn.run_sync(
            lambda c: outbox.parameters_pending(c, cluster_id, pending, changed_by=who, trace_id=trace_id)
        )
    return changes


async def _set_everywhere(
    services: OperationServices, cluster: ClusterParameters, name: str, value: str, undo: list[Undo]
) -> None:
    password = await services.root_password(cluster.servers[0].ref.cluster_id)
    if cluster.capability.distributed:
        async with services.cluster_sql(cluster.servers[0].ref.cluster_id) as ops:
            await set_parameter(ops.ex, ops.capability, name, value)
        undo.append(lambda: _restore_distributed(services, cluster, name))
        return
    for state in cluster.servers:
        async with services.session(state.ref, password, READ_TIMEOUTS) as ex:
            await set_parameter(ex, cluster.capability, name, value)
        undo.append(_restorer(services, password, cluster, state, name))


async def _restore_distributed(services: OperationServices, cluster: ClusterParameters, name: str) -> None:
    async with services.cluster_sql(cluster.servers[0].ref.cluster_id) as ops:
        for state in cluster.servers:
            server = f"{state.ref.address}:{state.ref.rpc_port}"
            await set_parameter(ops.ex, ops.capability, name, state.values[name], server=server)


def _restorer(
    services: OperationServices, password: str, cluster: ClusterParameters, state: ServerState, name: str
) -> Undo:
    async def restore() -> None:
        async with services.session(state.ref, password, READ_TIMEOUTS) as ex:
            await set_parameter(ex, cluster.capability, name, state.values[name])

    return restore


def _old_value(name: str, servers: list[ServerState]) -> str | None:
    values = list(dict.fromkeys(s.values[name] for s in servers if name in s.values))
    return ", ".join(values) if values else None


def _start_times(cluster: ClusterParameters) -> dict[int, int | None]:
    return {s.ref.id: s.start_service_time for s in cluster.servers}


def _failed_name(exc: ObSqlError, entries: list[tuple[Parameter, str]]) -> str:
    return next((p.name for p, _ in entries if f"SET {p.name} =" in exc.statement), entries[0][0].name)


def _failed_value(exc: ObSqlError, entries: list[tuple[Parameter, str]]) -> str:
    name = _failed_name(exc, entries)
    return next(v for p, v in entries if p.name == name)
