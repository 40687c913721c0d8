"""A real agent over HTTP with observers of kind `observer` in stand-in OceanBase homes (the real seekdb
binary as bin/observer, see standin_home): start, status, stop, adoption after an agent restart, a stale
pid file, an early exit with the ERROR lines of log/observer.log, a launcher that rejects its arguments."""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from obcp.agent.ports import port_is_free
from tests.agent.harness import ROOT_PASSWORD, AgentProcess, running_agent
from tests.agent.standin_home import (
    CONFIG_PLACEHOLDER,
    build_standin_home,
    initialise_standin_home,
    kill_standin,
    standin_observer,
    standin_pid,
)
from tests.support.ports import free_sql_ports

pytestmark = [pytest.mark.seekdb, pytest.mark.timeout(180)]

ADDRESS = "127.0.0.12"


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, int]]]:
    root = tmp_path_factory.mktemp("ob-homes")
    ports = free_sql_ports(3)
    made = {"ob1": (root / "ob1", ports[0]), "broken": (root / "broken", ports[1])}
    for home, _ in made.values():
        build_standin_home(home)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda hp: initialise_standin_home(hp[0], hp[1], ROOT_PASSWORD), made.values()))
    # A block file truncated to nothing: seekdb logs -4013 at step 8/14 and exits 1.
    (made["broken"][0] / "store" / "sstable" / "block_file").write_bytes(b"")
    # Never initialised: seekdb rejects `-p` before it looks at its store.
    made["obd_args"] = (root / "obd_args", ports[2])
    build_standin_home(made["obd_args"][0])
    (made["obd_args"][0] / "etc" / "observer.config.bin").write_bytes(CONFIG_PLACEHOLDER)
    yield made
    for home, _ in made.values():
        kill_standin(home)


@pytest.fixture(scope="module")
def agent(homes: dict[str, tuple[Path, int]]) -> Iterator[AgentProcess]:
    observers = [standin_observer(name, *homes[name]) for name in ("ob1", "broken")]
    # The stand-in with obd's default arguments (`-p <sql_port>`), which seekdb rejects.
    obd_args = standin_observer("obd_args", *homes["obd_args"])
    del obd_args["start_args"]
    observers.append(obd_args)
    with pytest.MonkeyPatch.context() as mp:
        # The agent's environment is the observer's: no telemetry lookups from the stand-in.
        mp.setenv("TELEMETRY_ENABLED", "false")
        with running_agent(homes["ob1"][0].parent, ADDRESS, observers) as proc:
            yield proc


def start(agent: AgentProcess, name: str) -> dict[str, object]:
    response = agent.request("POST", f"/v1/observers/{name}/start", json={"rootPassword": ROOT_PASSWORD})
    body: dict[str, object] = response.json()
    body["status_code"] = response.status_code
    return body


def test_start_status_stop_and_adoption_after_an_agent_restart(
    agent: AgentProcess, homes: dict[str, tuple[Path, int]]
) -> None:
    home, port = homes["ob1"]
    started = start(agent, "ob1")
    assert started["status_code"] == 200, started
    pid = standin_pid(home)
    assert pid is not None and f"as pid {pid}" in str(started["message"])
    assert int((home / "run" / "observer.pid").read_text()) == pid
    status = agent.request("GET", "/v1/observers/ob1").json()
    assert status["running"] is True and status["pid"] == pid and status["kind"] == "observer"
    assert status["binary"] == str(home / "bin" / "observer") and status["initialised"] is True
    assert port in status["listeningPorts"]
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password=ROOT_PASSWORD)
    conn.close()
    log = agent.request("GET", "/v1/observers/ob1/log", params={"lines": 5}).json()
    assert log["file"] == "log/observer.log" and log["lines"]

    agent.kill()
    agent.start()
    adopted = agent.request("GET", "/v1/observers/ob1").json()
    assert adopted["running"] is True and adopted["pid"] == pid, "adopted through run/observer.pid"
    assert "already running" in start(agent, "ob1")["message"]  # type: ignore[operator]

    stopped = agent.request("POST", "/v1/observers/ob1/stop").json()
    assert stopped["changed"] is True and f"(pid {pid}) stopped by SIGTERM" in stopped["message"]
    assert standin_pid(home) is None and port_is_free(port)
    # seekdb leaves its pid file behind: reported as stale, never acted on.
    after = agent.request("GET", "/v1/observers/ob1").json()
    assert after["running"] is False
    assert f"pid {pid} of {home / 'run' / 'observer.pid'} is not running" in after["pidFileProblem"]
    again = agent.request("POST", "/v1/observers/ob1/stop").json()
    assert again["changed"] is False and "stale pid file" in again["message"]

    restarted = start(agent, "ob1")
    assert restarted["status_code"] == 200, restarted
    assert standin_pid(home) not in (None, pid), "a new process"
    assert agent.request("POST", "/v1/observers/ob1/stop").json()["changed"] is True


def test_an_early_exit_reports_the_error_lines_of_observer_log(agent: AgentProcess) -> None:
    # seekdb's log is written by a background thread that its exit does not wait for: under load the
    # ERROR lines of a start are sometimes never written. Each start is read on its own.
    messages: list[str] = []
    for _ in range(5):
        t0 = time.monotonic()
        failed = start(agent, "broken")
        assert failed["status_code"] == 500, failed
        error = failed["error"]
        assert isinstance(error, dict) and error["code"] == "exited"
        message = str(error["message"])
        assert message.startswith("observer exited"), message
        assert "(a daemon: its exit code is not known)" in message
        assert time.monotonic() - t0 < 30
        messages.append(message)
        if "ERROR lines of " in message:
            break
    message = messages[-1]
    assert f"ERROR lines of {agent.observers_dirs[1] / 'log' / 'observer.log'}: " in message, messages
    assert "block manager start fail" in message and "-4013 is OB_ALLOCATE_MEMORY_FAILED" in message
    for other in messages[:-1]:
        assert "no ERROR line for this start in " in other
    status = agent.request("GET", "/v1/observers/broken").json()
    assert status["running"] is False
    assert "without being asked to stop (a daemon" in status["lastExit"]["description"]


def test_obds_default_arguments_are_rejected_by_the_stand_in_and_reported(
    agent: AgentProcess, homes: dict[str, tuple[Path, int]]
) -> None:
    home, port = homes["obd_args"]
    assert standin_pid(home) is None and port_is_free(port)
    failed = start(agent, "obd_args")
    assert failed["status_code"] == 500, failed
    message = failed["error"]["message"]  # type: ignore[index]
    assert message.startswith("observer exited with code 94"), message
    assert "invalid option -- 'p'" in message
    assert os.path.exists(home / "log" / "obcp-observer-stdout.log")
