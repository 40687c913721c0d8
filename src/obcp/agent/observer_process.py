"""Start, stop, find and report one configured observer process, of any kind (observer_kind).

The seekdb rules, as seekdb 1.4 behaves: a missing base dir is silently bootstrapped as a new empty database,
a failed first start poisons the directory, SIGTERM acts as SIGKILL, several failures exit 1 with an empty
log, and a busy port is not named in the log. Data of an initialised observer is never deleted or moved.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from obcp.agent.base_dir_check import INIT_MARKER
from obcp.agent.config import ObserverConfig, OceanBaseHomeConfig
from obcp.agent.daemon_start import PidBefore, ServerGone, wait_for_daemon
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_kind import LaunchSpec, observer_kind
from obcp.agent.pid_file import read_pid_file
from obcp.agent.ports import listening_ports, port_holder, port_is_free
from obcp.agent.process_record import LastExit, OperationResult, TrackedProcess, iso_time, live_process
from obcp.agent.readiness import (
    answers_handshake,
    mysql_error_text,
    select_1_problem,
    set_root_password,
)
from obcp.agent.seekdb_log import log_size, tail
from obcp.agent.start_failure import exit_report, stdout_lines

log = logging.getLogger("obcp.agent")

# Readiness probe interval: half of it is added to every start on average, and a probe of a port not yet
# listening (refused) costs well under a millisecond. 0.05 s is also what the bare-restart baseline of
# bench/restart_overhead.py polls at.
POLL_SECONDS = 0.05
PORT_RELEASE_SECONDS = 10.0


class ObserverProcess:
    def __init__(self, config: ObserverConfig | OceanBaseHomeConfig, host_label: str) -> None:
        self.config = config
        self.kind = observer_kind(config)
        self.host_label = host_label
        self._op_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._tracked: TrackedProcess | None = None
        self._last_exit: LastExit | None = None
        self._operation: str | None = None
        # Why the pid file's pid was last not believed (a stale file, another binary), for status.
        self._pid_file_problem: str | None = None

    # -- paths -------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def base_dir(self) -> Path:
        return self.config.base_dir

    @property
    def pid_file(self) -> Path:
        return self.kind.pid_file

    @property
    def init_marker(self) -> Path:
        return self.base_dir / INIT_MARKER

    def is_initialised(self) -> bool:
        return self.kind.is_initialised()

    # -- finding the process -----------------------------------------------------------------------------

    def running_process(self) -> psutil.Process | None:
        """The observer's live process: the one this agent tracks, else one found through the pid file."""
        with self._state_lock:
            if self._tracked is not None:
                proc = self._alive(self._tracked)
                if proc is not None:
                    return proc
                self._forget_tracked(by_agent=self._operation == "stopping")
            found = self._discover()
            if found is None:
                return None
            self._tracked = found
            log.info("observer %s: adopted running pid %d (base dir %s)", self.name, found.pid, self.base_dir)
            try:
                return psutil.Process(found.pid)
            except psutil.NoSuchProcess:
                self._tracked = None
                return None

    def _alive(self, tracked: TrackedProcess) -> psutil.Process | None:
        if tracked.popen is not None and tracked.popen.poll() is not None:
            return None
        return live_process(tracked.pid, tracked.create_time)

    def _forget_tracked(self, by_agent: bool) -> None:
        tracked = self._tracked
        if tracked is None:
            return
        code = None
        if tracked.popen is not None:
            # A dying multi-threaded process shows as a zombie before the kernel lets it be reaped.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = tracked.popen.wait(timeout=2.0)
        self._last_exit = LastExit(tracked.pid, code, time.time(), by_agent, tracked.started_here)
        if not by_agent:
            log.warning(
                "observer %s: pid %d %s", self.name, tracked.pid, self._last_exit.to_json()["description"]
            )
        self._tracked = None

    def _discover(self) -> TrackedProcess | None:
        finding = read_pid_file(self.pid_file, self.base_dir, self.kind.expected_exe())
        if finding.problem != self._pid_file_problem and finding.problem is not None:
            # A pid that exited is what every stop leaves; a pid of another binary or user is worth a warning.
            log.log(
                logging.INFO if finding.exited else logging.WARNING,
                "observer %s: %s",
                self.name,
                finding.problem,
            )
        self._pid_file_problem = finding.problem
        return finding.process

    # -- status ------------------------------------------------------------------------------------------

    def status(self, ports: bool = True) -> dict[str, Any]:
        """The observer's state; `ports=False` leaves out `listeningPorts`, whose psutil socket listing is
        most of a status call's cost (4 ms quiet, 11-38 ms under load, measured)."""
        proc = self.running_process()
        result: dict[str, Any] = {
            "name": self.name,
            "kind": self.config.kind,
            "host": self.host_label,
            "baseDir": str(self.base_dir),
            "sqlPort": self.config.sql_port,
            "initialised": self.is_initialised(),
            "running": False,
        }
        try:
            result["binary"] = str(self.config.resolved_binary())
        except RuntimeError as exc:
            result["binary"] = None
            result["binaryProblem"] = str(exc)
        if self._operation is not None:
            result["operation"] = self._operation
        if proc is not None:
            try:
                with proc.oneshot():
                    result.update(
                        running=True,
                        pid=proc.pid,
                        startedAt=iso_time(proc.create_time()),
                        rssBytes=proc.memory_info().rss,
                        binary=proc.exe(),
                    )
                if ports:
                    result["listeningPorts"] = listening_ports(proc)
            except psutil.Error:
                result["running"] = False
        if self._last_exit is not None:
            result["lastExit"] = self._last_exit.to_json()
        if self._pid_file_problem is not None and not result["running"]:
            result["pidFileProblem"] = self._pid_file_problem
        return result

    @property
    def log_file_name(self) -> str:
        return str(self.kind.log_file.relative_to(self.base_dir))

    def log_tail(self, lines: int) -> list[str]:
        return tail(self.kind.log_file, lines)

    # -- start -------------------------------------------------------------------------------------------

    def start(
        self, initialize: bool, root_password: str | None, timeout: float | None = None
    ) -> OperationResult:
        with self._op_lock:
            self._operation = "starting"
            try:
                return self._start(initialize, root_password, timeout or self.config.start_timeout)
            finally:
                self._operation = None

    def _start(self, initialize: bool, root_password: str | None, timeout: float) -> OperationResult:
        t0 = time.monotonic()
        proc = self.running_process()
        if proc is not None:
            return OperationResult(f"observer {self.name} is already running as pid {proc.pid}", False, 0.0)
        first = self._check_data(initialize)
        spec = self.kind.launch_spec(self._startable_binary(), first)
        self.kind.stdout_file.parent.mkdir(parents=True, exist_ok=True)
        if first:
            self.init_marker.write_text("a first start by obcp agent has not completed yet\n")
        logs = [(path, log_size(path)) for path in self.kind.log_files()]
        deadline = t0 + timeout
        try:
            tracked = self._launch(spec, first, deadline)
            while not self._ready(tracked.pid):
                if self._alive(tracked) is None:
                    with self._state_lock:
                        self._forget_tracked(by_agent=False)
                    raise ServerGone(self._last_exit.code if self._last_exit else None)
                if time.monotonic() > deadline:
                    return self._not_ready(tracked, first, timeout)
                time.sleep(POLL_SECONDS)
        except ServerGone as gone:
            raise self._early_exit_error(gone, time.monotonic() - t0, first, logs) from None
        self._check_root(tracked, first, root_password)
        elapsed = time.monotonic() - t0
        what = "initialised and started" if first else "started"
        return OperationResult(
            f"observer {self.name} {what} as pid {tracked.pid}; SQL port {self.config.sql_port} ready "
            f"after {elapsed:.2f} s",
            True,
            elapsed,
        )

    def _startable_binary(self) -> Path:
        """The binary, once it is known to be executable and the observer's ports free."""
        try:
            binary = self.kind.binary()
        except RuntimeError as exc:
            raise ObserverOperationError("binary_missing", str(exc)) from None
        if not os.access(binary, os.X_OK):
            raise ObserverOperationError(
                "binary_missing",
                f"the {self.kind.program} binary {binary} does not exist or is not executable",
            )
        rpc_port = getattr(self.config, "rpc_port", None)
        for port in (self.config.sql_port, rpc_port):
            if port is not None and not port_is_free(port):
                raise ObserverOperationError("port_in_use", f"port {port} is held by {port_holder(port)}")
        return binary

    def _launch(self, spec: LaunchSpec, first: bool, deadline: float) -> TrackedProcess:
        before = PidBefore.read(self.kind)
        launched_at = time.time()
        with self.kind.stdout_file.open("wb") as stdout:
            # Its own session: the observer must outlive the agent and not get the agent's SIGHUP.
            popen = subprocess.Popen(
                spec.argv,
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=spec.env,
                start_new_session=True,
                close_fds=True,
            )
        if self.kind.daemonizes:
            try:
                tracked = wait_for_daemon(popen, self.kind, before, launched_at, deadline)
            except ServerGone as gone:
                # Gone before it could be tracked (a quick death under load): its exit is still this
                # observer's last one, as when it dies while tracked; under the launcher's pid, the only
                # one known.
                with self._state_lock:
                    self._last_exit = LastExit(popen.pid, gone.code, time.time(), False, True)
                raise
        else:
            try:
                created = psutil.Process(popen.pid).create_time()
            except psutil.NoSuchProcess:
                created = time.time()
            tracked = TrackedProcess(popen.pid, created, popen)
        with self._state_lock:
            self._tracked = tracked
            self._pid_file_problem = None
        log.info(
            "observer %s: started pid %d (%s)", self.name, tracked.pid, "first start" if first else "start"
        )
        return tracked

    def _check_root(self, tracked: TrackedProcess, first: bool, root_password: str | None) -> None:
        """After a first start, sets root's password (undoing the start if that fails); after a later one,
        checks that root can log in with it."""
        port = self.config.sql_port
        if first:
            if root_password:
                try:
                    set_root_password(port, root_password)
                except Exception as exc:
                    self._kill_quietly(tracked)
                    self._clean_failed_init()
                    raise ObserverOperationError(
                        "init_failed",
                        f"the first start succeeded but setting root's password failed "
                        f"({mysql_error_text(exc)}); the observer was stopped and the new data removed",
                        500,
                    ) from None
            self.init_marker.unlink(missing_ok=True)
        elif root_password:
            problem = select_1_problem(port, root_password)
            if problem is not None:
                raise ObserverOperationError(
                    "sql_check_failed",
                    f"pid {tracked.pid} started and answers on port {port}, but SELECT 1 as root failed: "
                    f"{problem}; the observer was left running",
                )

    def _check_data(self, initialize: bool) -> bool:
        """Whether this start is a first start (bootstrap); raise if the directory must not be started."""
        first = self.kind.check_startable(initialize)
        if first and self.init_marker.exists():
            self._clean_failed_init()
        return first

    def _ready(self, pid: int) -> bool:
        port = self.config.sql_port
        if not answers_handshake(port):
            return False
        # The answer must come from our process, not from something that took the port meanwhile.
        try:
            return port in listening_ports(psutil.Process(pid))
        except psutil.NoSuchProcess:
            return False

    def _early_exit_error(
        self, gone: ServerGone, elapsed: float, first: bool, logs: list[tuple[Path, int]]
    ) -> ObserverOperationError:
        said = stdout_lines(self.base_dir, self.kind.stdout_file)
        parameters = self.kind.first_start_parameters() if first else None
        message = exit_report(self.kind.program, gone.code, elapsed, said, logs, parameters)
        if gone.note:
            message += f"; {gone.note}"
        if first:
            self._clean_failed_init()
            message += "; the failed first initialisation was removed (store/ and etc/) so a retry can work"
        return ObserverOperationError("exited", message, 500)

    def _not_ready(self, tracked: TrackedProcess, first: bool, timeout: float) -> OperationResult:
        port = self.config.sql_port
        if first:
            self._kill_quietly(tracked)
            self._clean_failed_init()
            raise ObserverOperationError(
                "not_ready",
                f"the first start did not answer on SQL port {port} within {timeout:.0f} s; pid "
                f"{tracked.pid} was killed and the incomplete initialisation removed (store/ and etc/)",
                504,
            )
        raise ObserverOperationError(
            "not_ready",
            f"pid {tracked.pid} is running but its SQL port {port} did not answer within {timeout:.0f} s; "
            "it was left running (a large redo replay can take long): check its status and log",
            504,
        )

    def _clean_failed_init(self) -> None:
        """Only ever called for a first start that did not complete: the data is ours and poisoned."""
        for sub in ("store", "etc"):
            shutil.rmtree(self.base_dir / sub, ignore_errors=True)
        self.init_marker.unlink(missing_ok=True)
        log.warning("observer %s: removed store/ and etc/ of a failed first start", self.name)

    def _kill_quietly(self, tracked: TrackedProcess) -> None:
        with self._state_lock:
            proc = self._alive(tracked)
            if proc is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            if tracked.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    tracked.popen.wait(timeout=10)
            if self._tracked is tracked:
                self._forget_tracked(by_agent=True)

    # -- stop --------------------------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> OperationResult:
        with self._op_lock:
            self._operation = "stopping"
            try:
                return self._stop(grace or self.config.stop_grace)
            finally:
                self._operation = None

    def _stop(self, grace: float) -> OperationResult:
        t0 = time.monotonic()
        proc = self.running_process()
        if proc is None:
            problem = f" ({self._pid_file_problem})" if self._pid_file_problem else ""
            return OperationResult(f"observer {self.name} is not running{problem}", False, 0.0)
        with self._state_lock:
            tracked = self._tracked
        assert tracked is not None
        pid = proc.pid
        # psutil checks the create time before signalling, so a reused pid is never hit.
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
        escalated = False
        if not self._wait_gone(tracked, grace):
            escalated = True
            log.warning(
                "observer %s: pid %d still there after %.0f s, sending SIGKILL", self.name, pid, grace
            )
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
            if not self._wait_gone(tracked, 10.0):
                raise ObserverOperationError(
                    "stop_failed", f"pid {pid} survived SIGTERM and SIGKILL (uninterruptible I/O?)", 500
                )
        with self._state_lock:
            if self._tracked is tracked:
                self._forget_tracked(by_agent=True)
        port = self.config.sql_port
        port_deadline = time.monotonic() + PORT_RELEASE_SECONDS
        while not port_is_free(port):
            if time.monotonic() > port_deadline:
                raise ObserverOperationError(
                    "port_not_released",
                    f"pid {pid} is gone but port {port} is still held by {port_holder(port)}",
                    500,
                )
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        how = "SIGKILL after the grace period" if escalated else "SIGTERM"
        return OperationResult(
            f"observer {self.name} (pid {pid}) stopped by {how} in {elapsed:.2f} s", True, elapsed
        )

    def _wait_gone(self, tracked: TrackedProcess, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._state_lock:
                if self._alive(tracked) is None:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
