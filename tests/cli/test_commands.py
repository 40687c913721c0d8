"""The API commands of `obcp` against a scripted server: what they send, what they print, their exit codes,
and how an API error reads."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from obcp.cli.main import app
from tests.cli.stub_api import StubApi, stub_api

PASSWORD = "CliPw-Tz4rQ8vN"
TASKS = "/api/v2/tasks/instances"


@pytest.fixture
def api() -> Iterator[StubApi]:
    with stub_api() as api:
        yield api


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBCP_")}
    env.update(extra)
    return env


def run(api: StubApi, *args: str, env: dict[str, str] | None = None) -> Result:
    if env is None:
        env = clean_env(OBCP_URL=api.url, OBCP_USER="ops", OBCP_PASSWORD=PASSWORD)
    return CliRunner().invoke(app, list(args), env=env)


def subtask(sid: int, name: str, status: str, upstreams: list[int], idx: int = -1) -> dict[str, Any]:
    return {"id": sid, "name": name, "status": status, "upstreams": upstreams, "parallelIdx": idx}


def task(status: str, *subtasks: dict[str, Any]) -> dict[str, Any]:
    return {"id": 7, "name": "Restart OB cluster", "status": status, "subtasks": list(subtasks)}


def test_cluster_list_sends_the_credentials_from_the_environment(api: StubApi) -> None:
    zones = [{"name": "zone1", "serverCount": 1}, {"name": "zone2", "serverCount": 2}]
    cluster = {"id": 1, "name": "c1", "status": "RUNNING", "zones": zones}
    api.ok("GET", "/api/v2/ob/clusters", {"contents": [cluster]})
    result = run(api, "cluster", "list")
    assert result.exit_code == 0, result.output
    assert row_of(result.stdout, "c1") == ["1", "c1", "● RUNNING", "zone1×1, zone2×2"]
    (call,) = api.calls
    assert call.auth == ("ops", PASSWORD) and call.query == {"size": ["2000"]}
    result = run(api, "cluster", "list", "-o", "json")
    assert json.loads(result.stdout) == {"contents": [cluster]}


def row_of(table: str, key: str) -> list[str]:
    """The cells of the table row holding `key` (columns are two spaces or more apart)."""
    line = next(line for line in table.splitlines() if f" {key} " in f" {line} ")
    return [cell for cell in re.split(r"\s{2,}", line.strip()) if cell]


def test_cluster_show_prints_sorted_json(api: StubApi) -> None:
    api.ok("GET", "/api/v2/ob/clusters/3", {"name": "c3", "id": 3})
    result = run(api, "cluster", "show", "3", "-o", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == '{\n  "id": 3,\n  "name": "c3"\n}\n'


def server_json(sid: int, zone: str, ip: str, status: str = "RUNNING") -> dict[str, Any]:
    return {"id": sid, "zoneName": zone, "ip": ip, "port": 2882, "sqlPort": 2881, "status": status,
            "innerStatus": "ACTIVE", "hostName": f"host-{sid}"}  # fmt: skip


ZONES = [
    {"name": "zone1", "status": "RUNNING", "serverCount": 1,
     "servers": [server_json(5, "zone1", "127.0.0.2")]},
    {"name": "zone2", "status": "RESTARTING", "serverCount": 1,
     "servers": [server_json(6, "zone2", "127.0.0.3", "RESTARTING")]},
]  # fmt: skip
FIGURE = {"longestOutageSeconds": 0.25, "probeRounds": 40, "roundsWithoutAnswer": 1}
CLUSTER = {
    "id": 3, "name": "c3", "obClusterId": 1, "obVersion": "seekdb 1.0", "status": "RUNNING", "serverCount": 2,
    "zones": ZONES,
    "lastOperation": {"taskId": 7, "name": "Restart OB cluster", "status": "SUCCESSFUL",
                      "availability": FIGURE},
}  # fmt: skip


def test_cluster_show_prints_tables_by_default_and_json_that_round_trips(api: StubApi) -> None:
    api.ok("GET", "/api/v2/ob/clusters/3", CLUSTER)
    result = run(api, "cluster", "show", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "{" not in out, "no raw JSON by default"
    assert "c3 (id 3, obClusterId 1)" in out and "✓ SUCCESSFUL Restart OB cluster (task 7)" in out
    assert "longest interval with no observer answering: 0.2 s (1 of 40 probe rounds unanswered)" in out
    assert row_of(out, "zone2")[:2] == ["zone2", "↻ RESTARTING"]
    assert row_of(out, "127.0.0.2:2882") == [
        "5",
        "zone1",
        "127.0.0.2:2882",
        "2881",
        "● RUNNING",
        "ACTIVE",
        "host-5",
    ]
    result = run(api, "cluster", "show", "3", "-o", "json")
    assert json.loads(result.stdout) == CLUSTER


def test_zone_and_server_lists(api: StubApi) -> None:
    zones = {"contents": ZONES}
    servers = {"contents": [server_json(5, "zone1", "127.0.0.2"), server_json(6, "zone2", "127.0.0.3")]}
    api.ok("GET", "/api/v2/ob/clusters/3/zones", zones)
    api.ok("GET", "/api/v2/ob/clusters/3/servers", servers)
    api.ok("GET", "/api/v2/ob/clusters/3/zones/zone%201/servers", {"contents": servers["contents"][:1]})
    assert row_of(run(api, "zone", "list", "3").stdout, "zone1")[:3] == ["zone1", "● RUNNING", "1"]
    assert json.loads(run(api, "zone", "list", "3", "-o", "json").stdout) == zones
    table = run(api, "server", "list", "3").stdout
    assert row_of(table, "127.0.0.3:2882")[:5] == ["6", "zone2", "127.0.0.3:2882", "2881", "● RUNNING"]
    assert json.loads(run(api, "server", "list", "3", "--output", "json").stdout) == servers
    one = run(api, "server", "list", "3", "--zone", "zone 1").stdout
    assert "127.0.0.2:2882" in one and "127.0.0.3" not in one


def test_api_error_is_one_line_and_exit_code_2(api: StubApi) -> None:
    api.error("GET", "/api/v2/ob/clusters/9", 404, 1004, "cluster 9 not found")
    result = run(api, "cluster", "show", "9")
    assert result.exit_code == 2
    assert result.stderr == "obcp: HTTP 404, error 1004: cluster 9 not found\n" and result.stdout == ""


def test_a_reply_that_is_not_json_is_shown_as_text(api: StubApi) -> None:
    api.raw("POST", f"{TASKS}/5/retry", 502, "Bad gateway")
    result = run(api, "task", "retry", "5")
    assert result.exit_code == 2
    assert result.stderr == "obcp: HTTP 502, error 0: Bad gateway\n"


def test_an_unreachable_server_is_named(api: StubApi) -> None:
    url = "http://127.0.0.1:1"
    result = run(api, "task", "list", env=clean_env(OBCP_URL=url, OBCP_PASSWORD=PASSWORD))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"obcp: HTTP 0, error 0: cannot reach the obcp server at {url}: ")


def test_defaults_without_environment_are_admin_and_no_password(api: StubApi) -> None:
    # No OBCP_URL: the default server is not the stub, so point the URL only and check user and password.
    api.ok("GET", TASKS, {"contents": []})
    result = run(api, "task", "list", env=clean_env(OBCP_URL=api.url))
    assert result.exit_code == 0, result.output
    assert api.calls[0].auth == ("admin", "")


def test_cluster_restart_body_and_task_line(api: StubApi) -> None:
    api.ok("POST", "/api/v2/ob/clusters/1/restart", {"id": 7, "name": "Restart OB cluster"})
    result = run(api, "cluster", "restart", "1", "--mode", "force", "--zone", "zone2", "--zone", "zone3")
    assert result.exit_code == 0, result.output
    assert result.stdout == "task 7: Restart OB cluster (force)\n"
    assert api.calls[0].body == {"restartMode": "FORCE", "dryRun": False, "zoneNames": ["zone2", "zone3"]}


def test_cluster_restart_dry_run_lists_the_dag_in_order(api: StubApi) -> None:
    subtasks = [subtask(3, "Wait node", "PENDING", [1, 2]), subtask(1, "Prepare", "PENDING", [])]
    subtasks.append(subtask(2, "Stop observer process", "PENDING", [1], idx=0))
    api.ok("POST", "/api/v2/ob/clusters/1/restart", {"id": 0, "name": "x", "tasks": subtasks})
    result = run(api, "cluster", "restart", "1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == "   1  Prepare\n   2  Stop observer process [0]\n   3  Wait node\n"
    assert api.calls[0].body == {"restartMode": "ROLLING", "dryRun": True}


def test_cluster_restart_wait_follows_the_task_and_reports_the_outage(api: StubApi) -> None:
    api.ok("POST", "/api/v2/ob/clusters/1/restart", {"id": 7, "name": "Restart OB cluster"})
    api.ok("GET", f"{TASKS}/7", task("RUNNING", subtask(1, "Prepare", "RUNNING", [])))
    api.ok("GET", f"{TASKS}/7", task("SUCCESSFUL", subtask(1, "Prepare", "SUCCESSFUL", [])))
    figure = {"longestOutageSeconds": 0.25}
    api.ok("GET", "/api/v2/ob/clusters/1", {"lastOperation": {"availability": figure}})
    result = run(api, "cluster", "restart", "1", "--wait")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "task 7: Restart OB cluster (rolling)"
    changes = [line[9:] for line in lines[1:-1]]  # after the HH:MM:SS stamp
    assert changes == [
        "subtask 1 Prepare: RUNNING",
        "task 7 Restart OB cluster: RUNNING",
        "subtask 1 Prepare: SUCCESSFUL",
        "task 7 Restart OB cluster: SUCCESSFUL",
    ]
    assert lines[-1] == "task 7: SUCCESSFUL; longest interval with no observer answering: 0.2 s"


def test_a_failed_task_exits_1(api: StubApi) -> None:
    api.ok("POST", "/api/v2/ob/clusters/1/stop", {"id": 7, "name": "Stop OB cluster"})
    api.ok("GET", f"{TASKS}/7", task("FAILED", subtask(1, "Prepare", "FAILED", [])))
    result = run(api, "cluster", "stop", "1", "--wait")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == "task 7: Stop OB cluster"
    assert result.stdout.splitlines()[-1] == "task 7: FAILED"
    assert api.calls[0].body is None


def test_an_error_while_following_exits_2(api: StubApi) -> None:
    api.ok("POST", "/api/v2/ob/clusters/1/start", {"id": 7, "name": "Start OB cluster"})
    api.error("GET", f"{TASKS}/7", 403, 1201, "no permission")
    result = run(api, "cluster", "start", "1", "--wait")
    assert result.exit_code == 2
    assert result.stdout == "task 7: Start OB cluster\n"
    assert result.stderr == "obcp: HTTP 403, error 1201: no permission\n"


@pytest.mark.parametrize("action", ["restart", "start", "stop"])
def test_zone_operations(api: StubApi, action: str) -> None:
    path = f"/api/v2/ob/clusters/2/zones/zone%201/{action}"
    api.ok("POST", path, {"id": 8, "name": f"{action} OB zone"})
    result = run(api, "zone", action, "2", "zone 1")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"task 8: {action} OB zone\n"
    assert [(c.method, c.body) for c in api.calls] == [("POST", None)]


@pytest.mark.parametrize(
    ("args", "action", "body"),
    [
        (["restart"], "restart", {"force": False}),
        (["restart", "--force"], "restart", {"force": True}),
        (["start"], "start", None),
        (["stop"], "stop", None),
    ],
)
def test_server_operations(api: StubApi, args: list[str], action: str, body: Any) -> None:
    api.ok("POST", f"/api/v2/ob/clusters/2/servers/5/{action}", {"id": 9, "name": "Restart OB server"})
    result = run(api, "server", args[0], "2", "5", *args[1:])
    assert result.exit_code == 0, result.output
    assert result.stdout == "task 9: Restart OB server\n"
    assert api.calls[0].body == body


def test_operation_error_exits_2(api: StubApi) -> None:
    api.error("POST", "/api/v2/ob/clusters/2/servers/5/stop", 400, 1001, "no majority left")
    result = run(api, "server", "stop", "2", "5")
    assert result.exit_code == 2
    assert result.stderr == "obcp: HTTP 400, error 1001: no majority left\n"


def test_task_list_filters_and_prints_newest_first(api: StubApi) -> None:
    contents = [{"id": 12, "status": "FAILED", "name": "Stop OB zone"}, {"id": 11, "status": "SUCCESSFUL"}]
    api.ok("GET", TASKS, {"contents": contents})
    result = run(api, "task", "list", "--status", "FAILED,SUCCESSFUL", "--size", "5")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if re.match(r"\s*\d+\s", line)]
    assert [row_of(line, line.split()[0])[:3] for line in lines] == [
        ["12", "✗ FAILED", "Stop OB zone"],
        ["11", "✓ SUCCESSFUL", "0/0"],
    ]
    assert api.calls[0].query == {"size": ["5"], "sort": ["id,desc"], "status": ["FAILED,SUCCESSFUL"]}
    result = run(api, "task", "list", "-o", "json")
    assert json.loads(result.stdout) == {"contents": contents}


def test_task_show_draws_the_table(api: StubApi) -> None:
    api.ok("GET", f"{TASKS}/7", task("RUNNING", subtask(1, "Prepare", "RUNNING", [])))
    result = run(api, "task", "show", "7")
    assert result.exit_code == 0, result.output
    assert "task 7 Restart OB cluster — RUNNING" in result.stdout and "Prepare" in result.stdout


def test_task_watch_exit_code_is_the_outcome(api: StubApi) -> None:
    api.ok("GET", f"{TASKS}/7", task("SUCCESSFUL"))
    assert run(api, "task", "watch", "7").exit_code == 0
    api.routes.clear()
    api.ok("GET", f"{TASKS}/7", task("FAILED"))
    assert run(api, "task", "watch", "7").exit_code == 1
    api.routes.clear()
    api.error("GET", f"{TASKS}/7", 404, 1004, "task 7 not found")
    result = run(api, "task", "watch", "7")
    assert result.exit_code == 2 and result.stderr == "obcp: HTTP 404, error 1004: task 7 not found\n"


@pytest.mark.parametrize(("action", "said"), [("retry", "retrying"), ("rollback", "rolling back")])
def test_task_actions(api: StubApi, action: str, said: str) -> None:
    api.ok("POST", f"{TASKS}/7/{action}", None)
    result = run(api, "task", action, "7")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"task 7: {said}\n"


def test_subtask_log(api: StubApi) -> None:
    api.ok("GET", f"{TASKS}/7/subtasks/3/log", {"log": "line 1\nline 2"})
    result = run(api, "subtask", "log", "7", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout == "line 1\nline 2\n"


@pytest.mark.parametrize("action", ["retry", "skip", "cancel"])
def test_subtask_actions(api: StubApi, action: str) -> None:
    api.ok("POST", f"{TASKS}/7/subtasks/3/{action}", None)
    result = run(api, "subtask", action, "7", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"subtask 3 of task 7: {action} requested\n"
    api.routes.clear()
    api.error("POST", f"{TASKS}/7/subtasks/3/{action}", 409, 1002, "not failed")
    result = run(api, "subtask", action, "7", "3")
    assert result.exit_code == 2 and result.stderr == "obcp: HTTP 409, error 1002: not failed\n"


def test_commands_without_the_api_need_no_password() -> None:
    env = clean_env()
    for args in (["version"], ["server", "--help"], ["agent", "--help"], ["sandbox", "--help"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)


def test_sandbox_up_asks_for_a_password_to_register() -> None:
    result = CliRunner().invoke(app, ["sandbox", "up"], env=clean_env())
    assert result.exit_code == 2
    need = "obcp sandbox: --password (or OBCP_PASSWORD) is needed to register with the server\n"
    assert result.stderr == need


def test_the_api_options_of_obcp_beat_the_environment(api: StubApi) -> None:
    api.ok("GET", TASKS, {"contents": []})
    env = clean_env(OBCP_URL="http://127.0.0.1:1", OBCP_USER="ops", OBCP_PASSWORD="from-env")
    for url_option in ("--server-url", "--url"):
        options = [url_option, api.url, "--user", "dba", "--password", PASSWORD]
        result = run(api, *options, "task", "list", env=env)
        assert result.exit_code == 0, result.output
        assert api.calls[-1].auth == ("dba", PASSWORD)


def test_sandbox_up_registers_with_its_own_options_else_those_of_obcp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from obcp.sandbox import up as sandbox_up
    from obcp.sandbox.up import SandboxError

    seen: list[Any] = []

    async def stop_at_once(*args: Any) -> None:
        seen.append(args[4])
        raise SandboxError("stopped by the test")

    monkeypatch.setattr(sandbox_up, "sandbox_up", stop_at_once)
    env = clean_env(OBCP_URL="http://from-env", OBCP_PASSWORD="env-pw")
    runner = CliRunner()
    result = runner.invoke(app, ["--user", "dba", "sandbox", "up"], env=env)
    assert result.exit_code == 1 and result.stderr == "obcp sandbox: stopped by the test\n"
    own = ["--server-url", "http://own", "--user", "me", "--password", "own-pw"]
    runner.invoke(app, ["--user", "dba", "sandbox", "up", *own], env=env)
    runner.invoke(app, ["sandbox", "up", "--no-register"], env=clean_env())
    assert [(s.url, s.user, s.password) if s else None for s in seen] == [
        ("http://from-env", "dba", "env-pw"),
        ("http://own", "me", "own-pw"),
        None,
    ]


def _parameter(
    name: str, values: dict[str, list[str]], pending: int = 0, static: bool = True
) -> dict[str, Any]:
    servers = [
        {"zone": f"zone{i + 1}", "svrIp": f"127.0.0.{i + 2}", "svrPort": 2882, "sqlPort": 2881}
        for i in range(pending)
    ]
    return {
        "name": name,
        "needRestart": static,
        "readonly": False,
        "currentValue": {"valueToServers": values},
        "pendingServers": servers,
        "pendingValue": "2" if pending else None,
    }


def test_cluster_parameter_set_sends_all_and_says_what_is_pending(api: StubApi) -> None:
    path = "/api/v2/ob/clusters/4/parameters"
    api.ok("PUT", path, None)
    api.ok("GET", path, {"contents": [_parameter("net_thread_count", {"0": ["a", "b", "c"]}, pending=3)]})
    api.ok("GET", path, {"contents": [_parameter("cpu_count", {"2": ["a", "b", "c"]}, static=False)]})
    result = run(api, "cluster", "parameter", "set", "4", "net_thread_count=2", "cpu_count=2")
    assert result.exit_code == 0, result.output
    assert api.calls[0].method == "PUT"
    assert api.calls[0].body == [
        {"name": "net_thread_count", "value": "2"},
        {"name": "cpu_count", "value": "2"},
    ]
    assert result.stdout == (
        "net_thread_count set to 2: pending restart on 3 server(s)\ncpu_count set to 2: in effect\n"
    )


def test_cluster_parameter_list_and_a_refused_set(api: StubApi) -> None:
    path = "/api/v2/ob/clusters/4/parameters"
    api.ok("GET", path, {"contents": [_parameter("net_thread_count", {"0": ["a"], "2": ["b"]}, pending=1)]})
    result = run(api, "cluster", "parameter", "list", "4", "--pending")
    assert result.exit_code == 0, result.output
    assert api.calls[0].query == {"size": ["2000"], "pendingRestart": ["true"]}
    assert result.stdout == (
        "net_thread_count = 0 on 1 server(s); 2 on 1 server(s)  (static: takes effect at restart)  "
        "pending restart on 1 server(s) for 2: zone1 127.0.0.2:2881\n"
    )
    api.error("PUT", path, 400, 11055, "The specified parameter nope does not exist.")
    refused = run(api, "cluster", "parameter", "set", "4", "nope=1")
    assert refused.exit_code != 0 and "11055" in refused.output and "nope does not exist" in refused.output
    assert run(api, "cluster", "parameter", "set", "4", "novalue").exit_code != 0


def test_restarts_without_minor_freeze(api: StubApi) -> None:
    for path in ("/api/v2/ob/clusters/1/restart", "/api/v2/ob/clusters/1/zones/z1/restart"):
        api.ok("POST", path, {"id": 7, "name": "Restart"})
    api.ok("POST", "/api/v2/ob/clusters/1/servers/2/restart", {"id": 7, "name": "Restart"})
    assert run(api, "cluster", "restart", "1", "--no-minor-freeze").exit_code == 0
    assert run(api, "zone", "restart", "1", "z1", "--no-minor-freeze").exit_code == 0
    assert run(api, "server", "restart", "1", "2", "--no-minor-freeze").exit_code == 0
    assert run(api, "zone", "restart", "1", "z1").exit_code == 0
    bodies = [c.body for c in api.calls]
    assert bodies == [
        {"restartMode": "ROLLING", "dryRun": False, "minorFreeze": False},
        {"minorFreeze": False},
        {"force": False, "minorFreeze": False},
        None,
    ]
