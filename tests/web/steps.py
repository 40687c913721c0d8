"""Subtask classes and templates for the console's browser tests, loaded by the server under test through
OBCP_ENGINE_MODULES=tests.web.steps (the test process imports them too, to submit tasks).

Steps wait for files the test creates (`gate`, `fix`), so a test decides when a subtask finishes or whether
it fails, and watches the page follow.
"""

from __future__ import annotations

import asyncio

import anyio

from obcp.engine import RunContext, Subtask, Template, TemplateBuilder, register


@register
class GatedStep(Subtask):
    """Runs until the file named by context `gate` exists (at once without a gate), logging while it waits."""

    key = "tests.web.GatedStep"
    name = "Gated step"
    timeout = 120
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        gate = ctx.get("gate")
        ctx.log.info("working (parallel index %s)", ctx.parallel_idx)
        waited = 0
        while gate and not await anyio.Path(gate).exists():
            if waited % 10 == 0:
                ctx.log.info("still waiting for the gate")
            waited += 1
            await asyncio.sleep(0.1)
        ctx.log.info("done")


@register
class ObserverStartStep(Subtask):
    """Fails like an observer that cannot start until the file named by context `fix` exists."""

    key = "tests.web.ObserverStartStep"
    name = "Start observer process"
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        fix = ctx.get("fix")
        ctx.log.info("starting the observer")
        if fix and not await anyio.Path(fix).exists():
            ctx.log.error("the observer exited at once: exit code 1, port 2881 in use")
            raise RuntimeError("observer on 127.0.0.1:2881 cannot start: exit code 1 (port 2881 in use)")
        ctx.log.info("observer started")


def live_template() -> Template:
    """A root, three parallel gated steps and a join: small enough to watch turn green."""
    return (
        TemplateBuilder("Console live test")
        .then(GatedStep)
        .then(GatedStep, split_key="items")
        .wait()
        .then(GatedStep)
        .build()
    )


def failing_template() -> Template:
    return (
        TemplateBuilder("Console retry test").then(GatedStep).then(ObserverStartStep).then(GatedStep).build()
    )


def zones_template(zones: int, servers: int) -> Template:
    """A forced restart's shape: per zone a chain with fan-outs over its servers, zones side by side; like
    the restart templates, a zone's steps carry the zone in their params (Wait nodes do not)."""
    b = TemplateBuilder(f"Console {zones} x {servers} test")
    root = b.add(GatedStep, name="Prepare restart cluster")
    ends = []
    for z in range(1, zones + 1):
        split, p = f"zone{z}.servers", {"zone": f"zone{z}"}
        zone = b.add(GatedStep, after=[root], name=f"Prepare restart zone zone{z}", params=p)
        stop = b.add(GatedStep, after=[zone], split_key=split, name="Stop observer process", params=p)
        wait = b.add(GatedStep, after=[stop], name="Wait node")
        start = b.add(GatedStep, after=[wait], split_key=split, name="Start observer process", params=p)
        wait = b.add(GatedStep, after=[start], name="Wait node")
        ends.append(b.add(GatedStep, after=[wait], name=f"Update zone status zone{z}", params=p))
    b.add(GatedStep, after=ends, name="Update OB cluster status")
    return b.build()


def noop_like_template() -> Template:
    return TemplateBuilder("Console one-step test").then(GatedStep).build()
