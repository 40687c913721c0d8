"""`obcp zone restart|start|stop CLUSTER_ID ZONE`: zone operations through the API."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

import typer

from obcp.cli.client import PASSWORD, SERVER_URL, USER, connection_options
from obcp.cli.clusters import WAIT, run_operation

zone_app = typer.Typer(help="Zones of a cluster: restart, start, stop.", no_args_is_help=True)


class _Action(StrEnum):
    restart = "restart"
    start = "start"
    stop = "stop"


def _command(action: _Action) -> None:
    def command(
        cluster_id: int,
        zone: str,
        wait: bool = WAIT,
        server_url: str = SERVER_URL,
        user: str = USER,
        password: str = PASSWORD,
    ) -> None:
        conn = connection_options(server_url, user, password)
        path = f"/api/v2/ob/clusters/{cluster_id}/zones/{quote(zone, safe='')}/{action.value}"
        run_operation(conn, path, wait=wait)

    command.__doc__ = {
        _Action.restart: "Restart every observer of a zone (ALTER SYSTEM STOP/START ZONE when distributed).",
        _Action.start: "Start a stopped zone: its observers, proven to serve SQL, then START ZONE if needed.",
        _Action.stop: "Stop a zone (STOP ZONE when distributed, refused without a majority left), data kept.",
    }[action]
    zone_app.command(action.value)(command)


for _action in _Action:
    _command(_action)
