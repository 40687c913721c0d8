"""Kind `observer`: an OceanBase server in its home, laid out and started the way obd does it.

The home holds `bin/observer`, `lib/`, `etc/observer.config.bin` (written by the server's first start and
read by every later one), `run/observer.pid` and `log/observer.log` (+ `.wf`). A start runs, in the home,
`LD_LIBRARY_PATH=<home>/lib: <home>/bin/observer <start_args>` (obd's start "without parameters" is
`-p <sql_port>`); the observer daemonizes and writes its pid to `run/observer.pid`. obcp never bootstraps
such a server: a home without its config is refused.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from obcp.agent.config import OceanBaseHomeConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_kind import LaunchSpec

CONFIG_FILE = Path("etc") / "observer.config.bin"
STDOUT_FILE = "obcp-observer-stdout.log"


def user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


class OceanBaseHome:
    program = "observer"
    daemonizes = True

    def __init__(self, config: OceanBaseHomeConfig) -> None:
        self.config = config
        home = config.home_path
        self.directory = home
        self.pid_file = home / "run" / "observer.pid"
        self.log_file = home / "log" / "observer.log"
        self.stdout_file = home / "log" / STDOUT_FILE

    def log_files(self) -> list[Path]:
        # The .wf file holds only WARN and ERROR lines, so it keeps them when observer.log has rotated.
        return [self.log_file, self.log_file.with_name("observer.log.wf")]

    def binary(self) -> Path:
        return self.config.resolved_binary()

    def expected_exe(self) -> Path | None:
        return self.binary()

    def is_initialised(self) -> bool:
        return (self.directory / CONFIG_FILE).is_file()

    def check_startable(self, initialize: bool) -> bool:
        home = self.directory
        if not self.is_initialised():
            raise ObserverOperationError(
                "not_bootstrapped",
                f"the home {home} has no {CONFIG_FILE}: it is not a bootstrapped OceanBase server, and obcp "
                "never bootstraps or deploys one (deploy it with obd, then let obcp start and stop it)",
            )
        self.check_owner()
        return False

    def check_owner(self) -> None:
        """The observer must run as the user that owns its home: started as another, it would write files
        the owner cannot read (or fail on the owner's)."""
        try:
            owner = self.directory.stat().st_uid
        except OSError as exc:
            raise ObserverOperationError(
                "home_unreadable", f"cannot stat the home {self.directory}: {exc}"
            ) from None
        me = os.geteuid()
        if owner != me:
            raise ObserverOperationError(
                "wrong_user",
                f"the home {self.directory} is owned by {user_name(owner)} but the agent runs as "
                f"{user_name(me)}; refusing to start its observer as another user than the home's owner: "
                f"run the agent as {user_name(owner)}",
            )

    def launch_spec(self, binary: Path, first: bool) -> LaunchSpec:
        home = self.directory
        argv = [str(binary), *self.config.resolved_start_args()]
        # Exactly obd's value; its empty last entry means the current directory (the home) to the loader.
        env = {**os.environ, "LD_LIBRARY_PATH": f"{home}/lib:"}
        return LaunchSpec(argv, env, home)

    def first_start_parameters(self) -> dict[str, str]:
        return {}
