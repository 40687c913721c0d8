"""Kind `seekdb`: the pylibseekdb server, run in the foreground as the agent's child in a base dir the
agent may initialise (the rules are in base_dir_check)."""

from __future__ import annotations

import os
from pathlib import Path

from obcp.agent.base_dir_check import INIT_MARKER, is_first_start
from obcp.agent.config import ObserverConfig
from obcp.agent.observer_kind import LaunchSpec
from obcp.agent.seekdb_log import seekdb_log_path
from obcp.agent.start_failure import STDOUT_FILE


class SeekdbKind:
    program = "seekdb"
    daemonizes = False

    def __init__(self, config: ObserverConfig) -> None:
        self.config = config
        self.directory = config.base_dir
        self.pid_file = config.base_dir / "run" / "seekdb.pid"
        self.log_file = seekdb_log_path(config.base_dir)
        self.stdout_file = config.base_dir / "log" / STDOUT_FILE

    def log_files(self) -> list[Path]:
        return [self.log_file]

    def binary(self) -> Path:
        return self.config.resolved_binary()

    def expected_exe(self) -> Path | None:
        # The cwd and the pid file's age identify a seekdb; its binary may be replaced by an upgrade.
        return None

    def is_initialised(self) -> bool:
        base = self.directory
        return (base / "store" / "sstable" / "meta.db").is_file() and not (base / INIT_MARKER).exists()

    def check_startable(self, initialize: bool) -> bool:
        return is_first_start(self.directory, initialize)

    def launch_spec(self, binary: Path, first: bool) -> LaunchSpec:
        # The log level on every start: measured, a restart without it logs at INFO (~40k lines in 10 s).
        argv = [
            str(binary),
            "--nodaemon",
            "--base-dir",
            str(self.directory),
            "--port",
            str(self.config.sql_port),
            "--log-level",
            self.config.log_level,
        ]
        if first:
            for key, value in self.config.parameters.items():
                argv += ["--parameter", f"{key}={value}"]
            for key, value in self.config.variables.items():
                argv += ["--variable", f"{key}={value}"]
        env = {**os.environ, "TELEMETRY_ENABLED": "false"}
        return LaunchSpec(argv, env, self.directory)

    def first_start_parameters(self) -> dict[str, str]:
        return dict(self.config.parameters)
