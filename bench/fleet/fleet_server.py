"""One obcp server replica for the fleet benchmark: the real app, engine, metadb and HTTP, with only the
observers' SQL plugged to the SIMULATION (`create_app(connect=SimulatedConnector(...))`); agents are
reached over real signed HTTP by obcp's own `AgentClient`.

    python bench/fleet/fleet_server.py --port P --home DIR --db-url URL --channel-port C [--migrate]

SIGUSR1 writes `counters-<pid>.json` in DIR: this process's CPU seconds and the metadb statements it sent
(reads, writes, commits), counted at SQLAlchemy's cursor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from sim_channel import SimulatedConnector
from sqlalchemy import event
from sqlalchemy.engine import Engine

from obcp import logformat
from obcp.api.app import create_app
from obcp.config import Settings
from obcp.meta.migrate import upgrade

COUNTS = {"reads": 0, "writes": 0, "commits": 0}
# Statements by their text's head (a census: which of them a subtask costs), with --census.
CENSUS: dict[str, int] = {}
_lock = threading.Lock()
CENSUS_ON = os.environ.get("OBCP_FLEET_CENSUS") == "1"


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    verb = statement.lstrip()[:6].upper()
    with _lock:
        COUNTS["writes" if verb in ("INSERT", "UPDATE", "DELETE") else "reads"] += 1
        if CENSUS_ON:
            head = " ".join(statement.split())[:150]
            CENSUS[head] = CENSUS.get(head, 0) + 1


@event.listens_for(Engine, "commit")
def _count_commit(conn: Any) -> None:
    with _lock:
        COUNTS["commits"] += 1


def main() -> None:
    p = argparse.ArgumentParser(description="obcp server replica with simulated observers (fleet bench)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--db-url", required=True)
    p.add_argument("--channel-port", type=int, required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--migrate", action="store_true")
    args = p.parse_args()
    home: Path = args.home

    def dump(signum: int, frame: FrameType | None) -> None:
        times = os.times()
        with _lock:
            payload = {**COUNTS, "cpu": times.user + times.system, "census": dict(CENSUS)}
        path = home / f"counters-{os.getpid()}.json"
        path.with_suffix(".tmp").write_text(json.dumps(payload))
        path.with_suffix(".tmp").rename(path)

    def graceful(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGTERM, graceful)
    logformat.configure("WARNING", "text")
    if args.migrate:
        upgrade(args.db_url)
    settings = Settings(
        home=home, db_url=args.db_url, admin_password=args.admin_password, port=args.port, log_level="warning"
    )
    app = create_app(settings, connect=SimulatedConnector("127.0.0.1", args.channel_port))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", log_config=None, access_log=False)


if __name__ == "__main__":
    main()
