"""A real agent over HTTP controlling real seekdb observers: start, stop, restart, adoption, failures.

One initialised base dir is shared by the module (init ≈1.5 s, restart ≈2 s); each test first brings the
observer into the state it needs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pymysql
import pytest

from obcp.agent.client import AgentClient, AgentError
from obcp.agent.ports import port_is_free
from tests.agent.harness import ROOT_PASSWORD, AgentProcess, foreign_listener, running_agent
from tests.support.ports import free_sql_ports
from tests.support.processes import observer_pid

pytestmark = [pytest.mark.seekdb, pytest.mark.timeout(180)]

ADDRESS = "127.0.0.11"
TIMINGS: dict[str, list[float]] = {}


def timed(name: str, seconds: float) -> None:
    TIMINGS.setdefault(name, []).append(seconds)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("agent-lifecycle")
    partial = root / "partial"
    (partial / "store" / "redo").mkdir(parents=True)
    (partial / "store" / "redo" / "keep-me").write_text("data the agent must not touch")
    return {
        "root": root,
        "ob1": root / "ob1",
        "empty": root / "empty",
        "bad": root / "bad",
        "small_log": root / "small_log",
        "partial": partial,
    }


@pytest.fixture(scope="module")
def agent(dirs: dict[str, Path]) -> Iterator[AgentProcess]:
    ports = free_sql_ports(5)
    observers = [
        {"name": "ob1", "base_dir": str(dirs["ob1"]), "sql_port": ports[0]},
        {"name": "empty", "base_dir": str(dirs["empty"]), "sql_port": ports[1]},
        {
            "name": "bad",
            "base_dir": str(dirs["bad"]),
            "sql_port": ports[2],
            "parameters": {"memory_budget": "512M", "log_disk_size": "2G"},
        },
        {"name": "partial", "base_dir": str(dirs["partial"]), "sql_port": ports[3]},
        {
            "name": "small_log",
            "base_dir": str(dirs["small_log"]),
            "sql_port": ports[4],
            "parameters": {"memory_budget": "1G", "log_disk_size": "1G"},
        },
    ]
    with running_agent(dirs["root"], ADDRESS, observers) as proc:
        t0 = time.monotonic()
        response = proc.request(
            "POST", "/v1/observers/ob1/start", json={"initialize": True, "rootPassword": ROOT_PASSWORD}
        )
        assert response.status_code == 200, response.text
        timed("init (HTTP round trip)", time.monotonic() - t0)
        yield proc
    print("\nagent timings (s):", {k: [round(v, 2) for v in vs] for k, vs in TIMINGS.items()})


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.address, agent.port, agent.key, retries=1) as c:
        yield c


def sql_port(agent: AgentProcess, name: str = "ob1") -> int:
    port: int = agent.request("GET", f"/v1/observers/{name}").json()["sqlPort"]
    return port


def start_service_time(port: int) -> int:
    conn = pymysql.connect(
        host="127.0.0.1", port=port, user="root", password=ROOT_PASSWORD, connect_timeout=5, read_timeout=10
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


async def test_first_start_initialised_with_small_settings_and_password(
    client: AgentClient, agent: AgentProcess, dirs: dict[str, Path]
) -> None:
    await client.start("ob1")
    status = await client.status("ob1")
    port = status["sqlPort"]
    assert status["running"] and status["initialised"]
    assert status["listeningPorts"] == [port]
    assert 50 * 2**20 < status["rssBytes"] < 600 * 2**20
    assert status["binary"].endswith("seekdb") and status["baseDir"] == str(dirs["ob1"])
    proc = psutil.Process(status["pid"])
    assert os.getsid(proc.pid) == proc.pid, "the observer must lead its own session"
    assert "TELEMETRY_ENABLED" in proc.environ() and proc.environ()["TELEMETRY_ENABLED"] == "false"
    conn = pymysql.connect(
        host="127.0.0.1", port=port, user="root", password=ROOT_PASSWORD, connect_timeout=5, read_timeout=10
    )
    with conn.cursor() as cur:
        cur.execute("SELECT @@global.time_zone")
        assert cur.fetchone() == ("+00:00",)
        cur.execute("SHOW PARAMETERS LIKE 'memory_budget'")
        assert "1G" in str(cur.fetchall())
    conn.close()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(
            host="127.0.0.1", port=port, user="root", password="", connect_timeout=5, read_timeout=5
        )
    assert not (dirs["ob1"] / "obcp-init-incomplete").exists()
    assert ROOT_PASSWORD not in agent.log.read_text()


async def test_status_lists_listening_ports_unless_told_not_to(
    client: AgentClient, agent: AgentProcess
) -> None:
    await client.start("ob1")
    full = await client.status("ob1")
    lean = await client.status("ob1", ports=False)  # signed with its query: the agent must verify it
    assert full["listeningPorts"] == [full["sqlPort"]]
    assert "listeningPorts" not in lean
    assert lean["running"] is True and lean["pid"] == full["pid"] and lean["startedAt"] == full["startedAt"]
    assert {k: v for k, v in full.items() if k not in ("listeningPorts", "rssBytes")} == {
        k: v for k, v in lean.items() if k != "rssBytes"
    }
    assert agent.request("GET", "/v1/observers/ob1?ports=true").json()["listeningPorts"] == [full["sqlPort"]]
    bad = agent.request("GET", "/v1/observers/ob1?ports=maybe")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


async def test_start_of_a_running_observer_is_success(client: AgentClient) -> None:
    first = await client.start("ob1")
    again = await client.start("ob1")
    assert again["changed"] is False
    assert again["observer"]["pid"] == first["observer"]["pid"]
    assert "already running" in again["message"]


async def test_stop_waits_until_gone_and_port_free_and_stop_again_is_success(client: AgentClient) -> None:
    started = await client.start("ob1")
    pid, port = started["observer"]["pid"], started["observer"]["sqlPort"]
    t0 = time.monotonic()
    stopped = await client.stop("ob1")
    timed("stop (HTTP round trip)", time.monotonic() - t0)
    assert stopped["changed"] is True and stopped["observer"]["running"] is False
    assert f"pid {pid}" in stopped["message"]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert port_is_free(port)
    assert stopped["observer"]["lastExit"]["description"] == "stopped by the agent"
    again = await client.stop("ob1")
    assert again["changed"] is False and "not running" in again["message"]


async def test_restart_gives_a_new_process_and_keeps_the_data(client: AgentClient) -> None:
    before = await client.start("ob1")
    port = before["observer"]["sqlPort"]
    service_time = start_service_time(port)
    await client.stop("ob1")
    t0 = time.monotonic()
    after = await client.start("ob1")
    timed("start after stop (HTTP round trip)", time.monotonic() - t0)
    assert after["changed"] is True and after["observer"]["pid"] != before["observer"]["pid"]
    assert start_service_time(port) != service_time
    for _ in range(2):
        t0 = time.monotonic()
        await client.stop("ob1")
        await client.start("ob1")
        timed("restart = stop + start (HTTP)", time.monotonic() - t0)


async def test_start_checks_the_given_root_password_with_select_1(client: AgentClient) -> None:
    await client.stop("ob1")
    with pytest.raises(AgentError) as caught:
        await client.start("ob1", root_password="not-the-password")
    error = caught.value
    assert error.code == "sql_check_failed" and "Access denied" in error.message
    assert "not-the-password" not in str(error)
    assert (await client.status("ob1"))["running"] is True, "the observer itself started and stays up"
    await client.stop("ob1")
    ok = await client.start("ob1", root_password=ROOT_PASSWORD)
    assert ok["changed"] is True


async def test_observer_survives_agent_crash_and_is_adopted(
    client: AgentClient, agent: AgentProcess, dirs: dict[str, Path]
) -> None:
    pid = (await client.start("ob1"))["observer"]["pid"]
    agent.kill()
    assert observer_pid(dirs["ob1"]) == pid, "the observer must outlive the agent"
    agent.start()
    status = await client.status("ob1")
    assert status["running"] is True and status["pid"] == pid
    assert "adopted running pid" in agent.log.read_text()
    agent.stop()  # a graceful SIGTERM of the agent leaves its observers alone too
    assert observer_pid(dirs["ob1"]) == pid
    agent.start()
    assert (await client.status("ob1"))["pid"] == pid
    stopped = await client.stop("ob1")
    assert stopped["changed"] is True and observer_pid(dirs["ob1"]) is None
    await client.start("ob1")


async def test_observer_killed_behind_the_agents_back(client: AgentClient) -> None:
    pid = (await client.start("ob1"))["observer"]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    status = await client.status("ob1")
    while status["running"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        status = await client.status("ob1")
    assert status["running"] is False
    assert status["lastExit"]["pid"] == pid
    assert "killed by signal 9 without being asked to stop" in status["lastExit"]["description"]
    restarted = await client.start("ob1")
    assert restarted["changed"] is True and restarted["observer"]["running"] is True


async def test_port_held_by_another_process_is_named(client: AgentClient, agent: AgentProcess) -> None:
    await client.stop("ob1")
    port = sql_port(agent)
    with foreign_listener(port) as holder:
        with pytest.raises(AgentError) as caught:
            await client.start("ob1")
        error = caught.value
        assert error.status_code == 409 and error.code == "port_in_use"
        assert f"port {port} is held by pid {holder.pid} (python" in error.message
        text = str(error)
        assert text.startswith(f"agent {agent.address}:{agent.port}: start observer ob1: port {port}")
        status = await client.status("ob1")
        assert status["running"] is False
    started = await client.start("ob1")
    assert started["changed"] is True


async def test_readiness_probe_does_not_hang_on_a_silent_listener() -> None:
    from obcp.agent.readiness import answers_handshake

    port = free_sql_ports(1)[0]
    with foreign_listener(port):
        t0 = time.monotonic()
        assert answers_handshake(port, timeout=0.5) is False
        assert time.monotonic() - t0 < 2


async def test_base_dir_without_data_is_refused_and_not_bootstrapped(
    client: AgentClient, agent: AgentProcess, dirs: dict[str, Path]
) -> None:
    with pytest.raises(AgentError) as caught:
        await client.start("empty")
    error = caught.value
    assert error.status_code == 409 and error.code == "not_initialised"
    assert str(dirs["empty"]) in error.message and "store/sstable/meta.db is missing" in error.message
    assert "initialize=true" in error.message
    assert f"agent {agent.address}:{agent.port}: start observer empty:" in str(error)
    assert not dirs["empty"].exists(), "nothing may be created for a refused start"
    response = agent.request("POST", "/v1/observers/empty/start", json={})
    assert response.status_code == 409
    assert response.json()["error"]["summary"].startswith(
        f"agent {agent.address}:{agent.port}: start observer"
    )


async def test_data_files_missing_is_refused_and_left_alone(
    client: AgentClient, dirs: dict[str, Path]
) -> None:
    for initialize in (False, True):
        with pytest.raises(AgentError) as caught:
            await client.start("partial", initialize=initialize)
        assert caught.value.code == "data_incomplete"
        assert "no store/sstable/meta.db" in caught.value.message
    assert (dirs["partial"] / "store" / "redo" / "keep-me").read_text() == "data the agent must not touch"


async def test_bad_first_start_parameter_reports_empty_log_and_cleans_up(
    client: AgentClient, agent: AgentProcess, dirs: dict[str, Path]
) -> None:
    for _attempt in range(2):  # the second attempt proves the first left nothing poisoned behind
        with pytest.raises(AgentError) as caught:
            await client.start("bad", initialize=True, root_password=ROOT_PASSWORD)
        error = caught.value
        assert error.status_code == 500 and error.code == "exited"
        assert "seekdb exited with code 1" in error.message
        assert "exited with an empty log" in error.message and "bad parameter value" in error.message
        assert "memory_budget=512M" in error.message
        assert "store/ and etc/" in error.message
        assert f"agent {agent.address}:{agent.port}: start observer bad:" in str(error)
        assert not (dirs["bad"] / "store").exists() and not (dirs["bad"] / "etc").exists()
        assert ROOT_PASSWORD not in str(error)
    status = await client.status("bad")
    assert status["running"] is False and status["initialised"] is False


async def test_failed_first_start_reports_what_its_log_says(
    client: AgentClient, agent: AgentProcess, dirs: dict[str, Path]
) -> None:
    with pytest.raises(AgentError) as caught:
        await client.start("small_log", initialize=True)
    error = caught.value
    assert error.code == "exited" and "seekdb exited with code 1" in error.message
    # seekdb logs from a background thread and exit(1) does not wait for it: measured, its ERROR line is
    # there in about a quarter of such starts. Either way the message must say what is known.
    if "no ERROR line" in error.message:
        assert "the last start step it logged: [server_start" in error.message, error.message
        assert "log_disk_size below 2G" in error.message and "log_disk_size=1G" in error.message
    else:
        assert f"ERROR lines of {dirs['small_log']}/log/seekdb.log" in error.message, error.message
        assert "OB_RESOURCE_UNIT_VALUE_INVALID" in error.message or "-4736" in error.message
    assert "empty log" not in error.message
    assert f"agent {agent.address}:{agent.port}: start observer small_log:" in str(error)
    assert not (dirs["small_log"] / "store").exists()


async def test_log_tail(client: AgentClient) -> None:
    await client.start("ob1")
    lines = await client.log_tail("ob1", 50)
    assert 0 < len(lines) <= 50
    assert any("seekdb" in line or "observer" in line for line in lines)


async def test_list_observers_and_info(client: AgentClient, agent: AgentProcess) -> None:
    info = await client.info()
    assert info["host"] == f"{agent.address}:{agent.port}"
    assert info["observers"] == ["bad", "empty", "ob1", "partial", "small_log"]
    assert info["uptimeSeconds"] >= 0 and info["version"]
    names = [o["name"] for o in await client.list_observers()]
    assert names == info["observers"]
