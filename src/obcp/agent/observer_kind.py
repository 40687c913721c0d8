"""What differs between kinds of observer: how one is started (argv, environment, cwd), where its pid and
logs are, and which directories it may be started in. Everything else is one piece of code for all kinds
(`ObserverProcess`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from obcp.agent.config import ObserverConfig, OceanBaseHomeConfig


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


class ObserverKind(Protocol):
    # The program's name in messages.
    program: str
    # True if the launched command returns once the server runs in the background (its pid is then read
    # from the pid file); False if the launched process is the server.
    daemonizes: bool
    directory: Path
    pid_file: Path
    # The log the server writes, and the one the agent shows as its tail.
    log_file: Path
    # Where the launched command's stdout and stderr go.
    stdout_file: Path

    def log_files(self) -> list[Path]:
        """Every log whose ERROR lines explain a failed start."""
        ...

    def binary(self) -> Path:
        """The program to run; RuntimeError when it cannot be known (a missing package)."""
        ...

    def expected_exe(self) -> Path | None:
        """The file `/proc/<pid>/exe` must be for a pid from the pid file to count (None: not checked)."""
        ...

    def is_initialised(self) -> bool: ...

    def check_startable(self, initialize: bool) -> bool:
        """Whether this start is a first start (bootstrap); raises ObserverOperationError if the directory
        must not be started (or not by this agent)."""
        ...

    def launch_spec(self, binary: Path, first: bool) -> LaunchSpec: ...

    def first_start_parameters(self) -> dict[str, str]:
        """The settings a failed first start is reported with."""
        ...


def observer_kind(config: ObserverConfig | OceanBaseHomeConfig) -> ObserverKind:
    # Imported here: both kinds import LaunchSpec from this module.
    from obcp.agent.oceanbase_home import OceanBaseHome
    from obcp.agent.seekdb_kind import SeekdbKind

    if isinstance(config, OceanBaseHomeConfig):
        return OceanBaseHome(config)
    return SeekdbKind(config)
