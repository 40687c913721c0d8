"""Kind `observer` without a server: the exact command line, environment and cwd for a real OceanBase
home, its config, the refusals, and which pid in `run/observer.pid` counts (no observer is started).

"The observer" here is a stand-in process: bin/observer a symlink to /bin/sleep, or another binary.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from obcp.agent.config import AgentConfig, OceanBaseHomeConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_kind import observer_kind
from obcp.agent.observer_process import ObserverProcess
from obcp.agent.start_failure import exit_report
from tests.support.ports import free_sql_ports

SLEEP = shutil.which("sleep") or "/bin/sleep"


def home_config(home: Path, **extra: object) -> OceanBaseHomeConfig:
    raw: dict[str, object] = {"name": "ob1", "kind": "observer", "home_path": str(home), "sql_port": 2881}
    raw.update(extra)
    return OceanBaseHomeConfig.model_validate(raw)


def make_home(home: Path, config: bool = True) -> Path:
    for sub in ("bin", "lib", "etc", "run", "log"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "bin" / "observer").symlink_to(SLEEP)
    if config:
        (home / "etc" / "observer.config.bin").write_bytes(b"\0")
    return home


def test_start_runs_obds_command_line_in_the_home_with_its_lib() -> None:
    home = Path("/home/admin/oceanbase")
    spec = observer_kind(home_config(home)).launch_spec(home / "bin" / "observer", first=False)
    assert spec.argv == ["/home/admin/oceanbase/bin/observer", "-p", "2881"]
    assert spec.cwd == home
    assert spec.env["LD_LIBRARY_PATH"] == "/home/admin/oceanbase/lib:"
    assert {k: v for k, v in spec.env.items() if k != "LD_LIBRARY_PATH"} == {
        k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"
    }, "everything else is the agent's own environment"


def test_start_args_take_both_port_placeholders() -> None:
    home = Path("/data/ob")
    config = home_config(
        home, rpc_port=2882, start_args=["-p", "{sql_port}", "-P", "{rpc_port}", "-l", "WARN"]
    )
    spec = observer_kind(config).launch_spec(config.resolved_binary(), first=False)
    assert spec.argv == ["/data/ob/bin/observer", "-p", "2881", "-P", "2882", "-l", "WARN"]
    assert observer_kind(home_config(home, start_args=[])).launch_spec(
        home / "bin" / "observer", False
    ).argv == ["/data/ob/bin/observer"]


def test_kind_observer_files_are_oceanbases() -> None:
    kind = observer_kind(home_config(Path("/data/ob")))
    assert kind.pid_file == Path("/data/ob/run/observer.pid")
    assert kind.log_files() == [Path("/data/ob/log/observer.log"), Path("/data/ob/log/observer.log.wf")]
    assert kind.binary() == kind.expected_exe() == Path("/data/ob/bin/observer")
    assert kind.daemonizes


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"start_args": ["-x", "{zone}"]}, "unknown placeholder {zone}"),
        ({"start_args": ["-P", "{rpc_port}"]}, "rpc_port is not set"),
        ({"home_path": "relative/home"}, "home_path must be an absolute path"),
        ({"base_dir": "/x"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_observer_configs_are_refused(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        home_config(Path("/data/ob"), **extra)


def test_agent_config_mixes_kinds_and_keeps_seekdb_the_default() -> None:
    config = AgentConfig.model_validate(
        {
            "observers": [
                {"name": "s", "base_dir": "/s", "sql_port": 1},
                {"name": "o", "kind": "observer", "home_path": "/o", "sql_port": 2},
            ]
        }
    )
    assert [o.kind for o in config.observers] == ["seekdb", "observer"]
    with pytest.raises(ValidationError, match="must be unique"):
        AgentConfig.model_validate(
            {
                "observers": [
                    {"name": "s", "base_dir": "/same", "sql_port": 1},
                    {"name": "o", "kind": "observer", "home_path": "/same", "sql_port": 2},
                ]
            }
        )


@pytest.mark.parametrize("initialize", [False, True])
def test_a_home_without_its_config_is_never_started(tmp_path: Path, initialize: bool) -> None:
    home = make_home(tmp_path / "ob", config=False)
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    with pytest.raises(ObserverOperationError) as err:
        observer.start(initialize=initialize, root_password=None)
    assert err.value.code == "not_bootstrapped"
    assert "etc/observer.config.bin" in err.value.message and "never bootstraps" in err.value.message
    assert not (home / "log" / "obcp-observer-stdout.log").exists(), "nothing was run"
    assert observer.status()["initialised"] is False


def test_the_agent_refuses_to_start_an_observer_of_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the home to another user")
    home = make_home(tmp_path / "ob")
    nobody = pwd.getpwnam("nobody")
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    with pytest.raises(ObserverOperationError) as err:
        observer.start(initialize=False, root_password=None)
    assert err.value.code == "wrong_user"
    assert "owned by nobody" in err.value.message and "runs as root" in err.value.message
    assert not (home / "log" / "obcp-observer-stdout.log").exists(), "nothing was run"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "ob")


def run_in(home: Path, argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, cwd=home, start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def own_process(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """bin/observer itself, run in the home: what a real observer looks like to the agent."""
    yield from run_in(home, [str(home / "bin" / "observer"), "600"])


@pytest.fixture
def other_binary(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    yield from run_in(home, [sys.executable, "-c", "import time; time.sleep(600)"])


def write_pid(home: Path, pid: int) -> None:
    (home / "run" / "observer.pid").write_text(f"{pid}\n")


def test_the_observer_of_the_pid_file_is_adopted_and_stopped(
    home: Path, own_process: subprocess.Popen[bytes]
) -> None:
    write_pid(home, own_process.pid)
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    status = observer.status()
    assert status["running"] is True and status["pid"] == own_process.pid
    assert "pidFileProblem" not in status
    result = observer.stop()
    assert result.changed and "SIGTERM" in result.message
    assert own_process.wait(timeout=5) == -15


def test_a_pid_of_another_binary_is_reported_and_left_alone(
    home: Path, other_binary: subprocess.Popen[bytes]
) -> None:
    write_pid(home, other_binary.pid)
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    status = observer.status()
    assert status["running"] is False
    problem = status["pidFileProblem"]
    assert f"pid {other_binary.pid}" in problem and "another binary" in problem
    assert str(home / "bin" / "observer") in problem and os.path.realpath(sys.executable) in problem
    result = observer.stop()
    assert result.changed is False and "another binary" in result.message
    assert other_binary.poll() is None, "never signalled"


def test_a_stale_pid_file_is_reported_and_nothing_is_killed(home: Path) -> None:
    dead = subprocess.Popen([SLEEP, "0"])
    dead.wait()
    write_pid(home, dead.pid)
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    status = observer.status()
    assert status["running"] is False
    assert status["pidFileProblem"] == (
        f"pid {dead.pid} of {home / 'run' / 'observer.pid'} is not running (a stale pid file, left as it is)"
    )
    assert "stale pid file" in observer.stop().message


def test_a_pid_file_older_than_its_process_is_stale(home: Path, own_process: subprocess.Popen[bytes]) -> None:
    write_pid(home, own_process.pid)
    created = psutil.Process(own_process.pid).create_time()
    os.utime(home / "run" / "observer.pid", (created - 60, created - 60))
    observer = ObserverProcess(home_config(home, sql_port=free_sql_ports(1)[0]), "test")
    assert observer.running_process() is None
    assert "pid was reused" in observer.status()["pidFileProblem"]
    assert observer.stop().changed is False and own_process.poll() is None


def test_an_early_exit_names_the_error_lines_of_observer_log_and_wf(tmp_path: Path) -> None:
    log, wf = tmp_path / "observer.log", tmp_path / "observer.log.wf"
    old = "[2026-12-01 10:00:00.000000] ERROR [SERVER] old (a.cpp:1) [1][x][y] [lt=1] an old failure\n"
    log.write_text(old + "[2026-12-01 10:00:01.000000] INFO [SERVER] starting\n")
    wf.write_text(
        "[2026-12-01 10:00:01.000000] ERROR [STORAGE] start (b.cpp:2) [2][x][y] [lt=3][errcode=-4013] "
        "[server_start 8/14] block manager start fail.\n"
    )
    message = exit_report("observer", None, 0.6, [], [(log, len(old)), (wf, 0)], None)
    assert message.startswith("observer exited 0.6 s after start (a daemon: its exit code is not known)")
    assert f"ERROR lines of {wf}: [errcode=-4013] [server_start 8/14] block manager start fail." in message
    assert "an old failure" not in message, "only this start's lines"
    assert "-4013 is OB_ALLOCATE_MEMORY_FAILED" in message
    missing = tmp_path / "none.log"
    assert exit_report("observer", 1, 0.1, [], [(missing, 0)], None) == (
        f"observer exited with code 1 0.1 s after start; no ERROR line for this start in {missing}"
    )
