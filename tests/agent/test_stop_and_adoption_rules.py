"""Stop escalation and the adoption rules, with a stand-in process that ignores SIGTERM (no seekdb needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from obcp.agent.config import ObserverConfig
from obcp.agent.observer_process import ObserverProcess
from obcp.agent.ports import port_is_free
from tests.support.ports import free_sql_ports

StandIn = tuple[subprocess.Popen[bytes], Path, int]

# Behaves like seekdb where it matters: cwd = base dir, writes run/seekdb.pid, listens on the port;
# unlike seekdb it ignores SIGTERM, so only SIGKILL ends it.
STAND_IN = """
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
base, port = sys.argv[1], int(sys.argv[2])
os.chdir(base)
os.makedirs("run", exist_ok=True)
with open("run/seekdb.pid", "w") as f:
    f.write(str(os.getpid()))
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    base = tmp_path / "ob"
    base.mkdir()
    port = free_sql_ports(1)[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(base), str(port)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield proc, base, port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def observer(base: Path, port: int) -> ObserverProcess:
    return ObserverProcess(ObserverConfig(name="x", base_dir=base, sql_port=port), "127.0.0.1:test")


def test_stop_escalates_to_sigkill_after_the_grace(stand_in: StandIn) -> None:
    proc, base, port = stand_in
    ob = observer(base, port)
    found = ob.running_process()
    assert found is not None and found.pid == proc.pid, "adopted through run/seekdb.pid and its cwd"
    t0 = time.monotonic()
    result = ob.stop(grace=0.5)
    assert "SIGKILL after the grace period" in result.message
    assert 0.5 <= time.monotonic() - t0 < 5
    proc.wait(timeout=5)
    assert proc.returncode == -9
    assert port_is_free(port)
    assert ob.stop().changed is False


def test_pid_file_of_another_directory_is_not_believed(stand_in: StandIn, tmp_path: Path) -> None:
    proc, _base, port = stand_in
    other = tmp_path / "other"
    (other / "run").mkdir(parents=True)
    (other / "run" / "seekdb.pid").write_text(str(proc.pid))
    ob = observer(other, port + 1 if port < 65535 else port - 1)
    assert ob.running_process() is None, "a live pid whose cwd is elsewhere is not this observer"
    assert ob.stop().changed is False
    assert proc.poll() is None, "and it is never signalled"


def test_pid_file_older_than_the_process_is_not_believed(
    stand_in: StandIn,
) -> None:
    proc, base, port = stand_in
    created = psutil.Process(proc.pid).create_time()
    # As if the pid had been reused after seekdb wrote the file and died.
    os.utime(base / "run" / "seekdb.pid", (created - 60, created - 60))
    ob = observer(base, port)
    assert ob.running_process() is None
    assert ob.stop().changed is False
    assert proc.poll() is None
