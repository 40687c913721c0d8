"""After a restart: every static parameter change that was pending on a restarted server must now be in
effect there (the server started after the change and reports the new value), and what is still pending
is written back to the change records."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from obcp.ob.parameter_values import same_value
from obcp.operations.services import OperationServices
from obcp.parameters import store
from obcp.parameters.pending import pending_servers
from obcp.parameters.reading import ClusterParameters, ServerState, read_cluster
from obcp.parameters.store import Change


def was_pending(change: Change, server_id: int, start_before: int | None) -> bool:
    """Whether the change was pending on the server as the task began (its START_SERVICE_TIME then)."""
    if start_before is None:
        return server_id in change.pending_server_ids
    recorded = change.start_times.get(server_id)
    if recorded is not None:
        return start_before <= recorded
    return start_before < change.changed_at * 1000


async def refresh_pending(
    services: OperationServices, cluster: ClusterParameters, changes: Mapping[str, Change]
) -> dict[str, list[ServerState]]:
    """Pending servers of every change, from a live reading, written back to the records."""
    pending = {name: pending_servers(c, cluster.servers) for name, c in changes.items()}
    async with services.db.tx() as conn:
        for name, change in changes.items():
            ids = [s.ref.id for s in pending[name]]
            if tuple(ids) != change.pending_server_ids:
                await store.set_pending(conn, change.id, ids)
    return pending


async def verify_restarted(
    services: OperationServices,
    cluster_id: int,
    restarted: Mapping[int, int | None],
    log: Callable[[str], None],
) -> None:
    """`restarted`: server id -> its START_SERVICE_TIME before the task. Raises RuntimeError naming every
    server, parameter, expected and seen value that is not in effect."""
    async with services.db.read() as conn:
        changes = await store.latest_static(conn, cluster_id)
    if not changes:
        log("no static parameter change recorded: nothing to verify")
        return
    cluster = await read_cluster(services, cluster_id)
    by_id = {s.ref.id: s for s in cluster.servers}
    failures: list[str] = []
    for name, change in sorted(changes.items()):
        covered = [i for i, before in restarted.items() if was_pending(change, i, before) and i in by_id]
        if not covered:
            continue
        kind = cluster.parameters[name].data_type if name in cluster.parameters else "STRING"
        bad = [_mismatch(change, by_id[i], kind) for i in covered]
        failures += [b for b in bad if b]
        in_effect = sum(1 for b in bad if not b)
        log(f"{name} = {change.new_value} in effect on {in_effect}/{len(covered)} servers")
    pending = await refresh_pending(services, cluster, changes)
    for name, servers in sorted(pending.items()):
        if servers:
            shown = ", ".join(_label(s) for s in servers)
            value = changes[name].new_value
            log(f"{name} = {value} still pending restart on {len(servers)} server(s): {shown}")
    if failures:
        shown = "; ".join(failures)
        raise RuntimeError(f"static parameter change(s) not in effect after the restart: {shown}")


def _mismatch(change: Change, state: ServerState, kind: str) -> str:
    where = f"{_label(state)}: {change.name}"
    if not state.answered:
        return f"{where} expected {change.new_value}, seen nothing (no answer: {state.error})"
    seen = state.values.get(change.name)
    if seen is None:
        return f"{where} expected {change.new_value}, seen nothing (not reported)"
    if pending_servers(change, [state]):
        return f"{where} expected {change.new_value}, seen {seen} (START_SERVICE_TIME not after the change)"
    if not same_value(kind, seen, change.new_value):
        return f"{where} expected {change.new_value}, seen {seen}"
    return ""


def _label(state: ServerState) -> str:
    ref = state.ref
    return f"server {ref.address}:{ref.sql_port} (zone {ref.zone_name})"
