"""The engine's settle listener (obcp.notify.outbox.task_settled) on an engine of its own: the outbox rows
are written in the transaction that settles the task, and a broken notification schema never costs a task
its state."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select, text

from obcp.engine import Engine
from obcp.engine.testing import fail_template, noop_chain
from obcp.meta.alarm_tables import alarm_delivery
from obcp.meta.db import Database
from obcp.notify import channels, outbox
from obcp.notify.channels import ChannelFields
from obcp.notify.events import Event, Subscription
from obcp.secretbox import SecretBox
from tests.engine.conftest import FAST, create_schema


async def test_rows_written_when_the_task_settles_and_a_broken_outbox_costs_no_task(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'meta.db'}"
    create_schema(url)
    db = Database(url)
    box = SecretBox(Fernet.generate_key())
    subs = [Subscription(Event.TASK_FAILED), Subscription(Event.TASK_SUCCESSFUL, task_names=("wanted",))]
    async with db.tx() as conn:
        await channels.create(conn, box, ChannelFields("c", "http://127.0.0.1:9/", {}, "s" * 16, subs), "t")
    engine = Engine(db, "outbox-test", FAST, on_settled=outbox.task_settled)
    await engine.start()
    try:
        wanted = await engine.submit(noop_chain(2), creator="t", name="wanted", trace_id="tr-1")
        other = await engine.submit(noop_chain(1), creator="t", name="not subscribed")
        failed = await engine.submit(fail_template(), creator="t", name="fails")
        states = [await engine.wait_task(t) for t in (wanted, other, failed)]
        assert states == ["SUCCESSFUL", "SUCCESSFUL", "FAILED"]
        async with db.read() as conn:
            rows = (await conn.execute(select(alarm_delivery).order_by(alarm_delivery.c.id))).all()
        found = sorted((r.event, json.loads(r.payload)["task"]["id"]) for r in rows)
        assert found == sorted([("TASK_SUCCESSFUL", wanted), ("TASK_FAILED", failed)])
        assert all(r.status == "PENDING" and r.attempts == 0 for r in rows)
        assert json.loads(rows[0].payload)["deliveryId"] == rows[0].delivery_key

        async with db.tx() as conn:  # the outbox is gone: tasks still settle, their events are logged lost
            await conn.execute(text("DROP TABLE alarm_delivery_attempt"))
            await conn.execute(text("DROP TABLE alarm_delivery"))
        again = await engine.submit(fail_template(), creator="t", name="fails again")
        assert await engine.wait_task(again) == "FAILED"
        ok = await engine.submit(noop_chain(1), creator="t", name="wanted")
        assert await engine.wait_task(ok) == "SUCCESSFUL"
    finally:
        await engine.stop()
        await db.dispose()
