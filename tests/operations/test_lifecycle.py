"""The lifecycle table, the typed services of operation steps, and the DAGs built from OCP's step lists."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from obcp.engine import Context, RunContext
from obcp.meta.db import Database
from obcp.meta.statuses import ServerStatus, ZoneStatus
from obcp.operations import templates
from obcp.operations.lifecycle import TRANSITIONS, Kind, Scope, former, transition, zone_after_server
from obcp.operations.services import OperationServices
from obcp.secretbox import SecretBox


def test_every_scope_has_a_transition_per_kind_and_none_starts_from_its_own_busy_status() -> None:
    for scope in Scope:
        assert set(TRANSITIONS[scope]) == set(Kind)
        for kind in Kind:
            t = transition(scope, kind)
            assert t.during not in t.allowed_from and t.on_success != t.during, (scope, kind)


def test_rollback_gives_back_running_for_a_status_the_task_itself_set() -> None:
    assert former(Scope.ZONE, ZoneStatus.RESTARTING) == "RUNNING"
    assert former(Scope.SERVER, ServerStatus.STOPPING) == "RUNNING"
    assert former(Scope.SERVER, ServerStatus.PROCESS_STOPPED) == "PROCESS_STOPPED"


def test_a_zone_follows_its_servers_stop_and_start() -> None:
    assert zone_after_server(Kind.STOP, "RUNNING", ["STOPPED", "STOPPED"]) is ZoneStatus.STOPPED
    assert zone_after_server(Kind.STOP, "RUNNING", ["STOPPED", "RUNNING"]) is None
    assert zone_after_server(Kind.START, "STOPPED", ["RUNNING", "STOPPED"]) is ZoneStatus.RUNNING
    assert zone_after_server(Kind.START, "RUNNING", ["RUNNING"]) is None


def _run_context(services: object, tmp_path: Path) -> RunContext:
    db = Database(f"sqlite:///{tmp_path / 'unused.sqlite'}")
    return RunContext(Context(), 1, 1, 1, "EXECUTE", logging.getLogger("test"), db, services)


async def test_steps_get_the_operation_services_typed_or_a_clear_type_error(tmp_path: Path) -> None:
    box = SecretBox.from_file(tmp_path / "secret.key")
    ops = OperationServices(Database(f"sqlite:///{tmp_path / 'm.sqlite'}"), box)
    assert OperationServices.of(_run_context(ops, tmp_path)) is ops
    with pytest.raises(TypeError, match="OperationServices, not dict"):
        OperationServices.of(_run_context({"ops": ops}, tmp_path))


def test_the_restart_of_one_zone_with_one_server_is_the_seeds_19_subtasks() -> None:
    ctx = Context()
    ctx.put_list("7.zone1.server_ids", ["5"])
    specs = templates.restart_cluster(7, ["zone1"], rolling=True).instantiate(ctx)
    assert [s.name for s in specs] == [
        "Prepare restart cluster", "Set zone context", "Prepare restart OB zone", "Prepare restart observer",
        "Wait node", "Stop observer process", "Wait node", "Start observer process",
        "Wait observer accessible", "Start ocp agent service", "Wait node", "Start server", "Wait node",
        "Update observer status", "Start zone", "Update zone status", "Sync cluster info",
        "Sync all tenant information", "Update OB cluster status",
    ]  # fmt: skip
    assert all(s.upstreams == ((s.index - 1,) if s.index else ()) for s in specs)
