"""When the availability monitor saves its figures: an outage that begins or ends at once (a replica taking
the task over must know when it began), the rounds between only every `save_every` seconds.

The probes are real MySQL logins and `SELECT 1`, against the machine's MariaDB (an observer that answers)
or a closed loopback port (one that does not); which of the two the monitored observer is, the test
switches.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select

from obcp.engine import Engine
from obcp.engine.testing import noop_chain
from obcp.meta.db import Database, sync_url
from obcp.meta.inventory import ServerRef
from obcp.meta.schema import metadata
from obcp.meta.tables import ob_cluster, operation_availability
from obcp.ob.connection import ObEndpoint, ObTimeouts, open_connection
from obcp.ob.executor import SqlExecutor
from obcp.operations.availability import AvailabilityMonitors
from tests.dbs import temporary_database

MARIADB = ("127.0.0.1", 3306)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Switch:
    """The observer's SQL port as the probes find it: MariaDB while `up`, a closed port otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.dead = _closed_port()

    def connect(self, endpoint: ObEndpoint, timeouts: ObTimeouts) -> AbstractAsyncContextManager[SqlExecutor]:
        target = (
            ObEndpoint(*MARIADB, "", "root") if self.up else ObEndpoint("127.0.0.1", self.dead, "", "root")
        )
        return open_connection(target, timeouts)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    with temporary_database("sqlite", tmp_path) as url:
        eng = create_engine(sync_url(url))
        metadata.create_all(eng)
        with eng.begin() as conn:  # the cluster the monitored task acts on
            conn.execute(
                insert(ob_cluster).values(
                    id=1, name="c1", ob_cluster_id=1, status="RESTARTING", root_password_enc="-",
                    creator="test", created_at=0, updated_at=0,
                )
            )  # fmt: skip
        eng.dispose()
        database = Database(url)
        yield database
        await database.dispose()


async def _row(db: Database, task_id: int) -> Any:
    async with db.read() as conn:
        query = select(operation_availability).where(operation_availability.c.task_id == task_id)
        return (await conn.execute(query)).first()


async def _until(db: Database, task_id: int, what: str, test: Any, seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        row = await _row(db, task_id)
        if test(row):
            return row
        assert time.monotonic() < deadline, f"{what}: the saved row is {row}"
        await asyncio.sleep(0.02)


# The monitored observer; where its SQL port leads, `Switch` decides.
OBSERVER = ServerRef(
    id=1, cluster_id=1, zone_id=1, zone_name="zone1", host_id=1, address="127.0.0.1", sql_port=2881,
    rpc_port=2882, observer_name="obs1", agent_port=2886, agent_key_enc="", status="RUNNING",
)  # fmt: skip


async def _running_task(db: Database) -> int:
    """A RUNNING task for the monitor to watch (no engine runs it: it stays RUNNING)."""
    return await Engine(db, "test-server").submit(noop_chain(1), creator="test")


async def test_outage_edges_are_saved_at_once_the_rounds_between_periodically(db: Database) -> None:
    task_id = await _running_task(db)
    switch = Switch()
    monitors = AvailabilityMonitors(db, interval=0.05, save_every=30.0, connect=switch.connect)
    try:
        await monitors.ensure(task_id, 1, [OBSERVER], "")
        await asyncio.sleep(0.5)  # ~10 rounds, every one answered
        quiet = await _row(db, task_id)
        assert quiet.samples == 0 and quiet.outage_since is None, "rounds without a change wait for the save"

        switch.up = False
        began = await _until(db, task_id, "the outage's start", lambda r: r.outage_since is not None)
        assert began.samples >= 10 and began.failed_samples >= 1

        await asyncio.sleep(0.3)
        switch.up = True
        ended = await _until(db, task_id, "the outage's end", lambda r: r.outage_since is None)
        assert ended.longest_outage_ms >= 250, ended
        assert ended.failed_samples > began.failed_samples

        await asyncio.sleep(0.2)  # rounds after the outage, saved only by the final save
        final = await monitors.finish(task_id)
        assert final is not None and final.finished and final.samples > ended.samples
        assert final.longest_outage_ms == ended.longest_outage_ms
    finally:
        await monitors.close()


async def test_the_rounds_are_saved_every_save_every_seconds(db: Database) -> None:
    task_id = await _running_task(db)
    monitors = AvailabilityMonitors(db, interval=0.05, save_every=0.3, connect=Switch().connect)
    try:
        await monitors.ensure(task_id, 1, [OBSERVER], "")
        first = await _until(db, task_id, "a periodic save", lambda r: r.samples > 0)
        second = await _until(db, task_id, "the next periodic save", lambda r: r.samples > first.samples)
        assert second.updated_at > first.updated_at and second.failed_samples == 0
    finally:
        await monitors.close()
