"""Subtask classes and templates for the console's browser tests, loaded by the server under test through
OBCP_ENGINE_MODULES=tests.web.steps (the test process imports them too, to submit tasks).

Steps wait for files the test creates (`gate`, `fix`), so a test decides when a subtask finishes or whether
it fails, and watches the page follow.
"""

from __future__ import annotations

import asyncio
import time

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


@register
class RestartLikeStep(Subtask):
    """A step of a restart-shaped test task: takes `step_ms` (context) of time; holds while the file named by
    `gate` is missing when `hold` names it ("<step>|<zone>"); fails while the file named by `fix` is missing
    when `fail` names it ("<step>|<zone>|<parallelIdx>") — like an observer that cannot start."""

    key = "tests.web.RestartLikeStep"
    name = "Restart-like step"
    timeout = 120
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        step, zone = ctx.params.get("step", ""), ctx.params.get("zone", "")
        await asyncio.sleep(int(ctx.get("step_ms") or 0) / 1000)
        gate, fix = ctx.get("gate"), ctx.get("fix")
        if gate and ctx.get("hold") == f"{step}|{zone}":
            ctx.log.info("held until the gate opens")
            waited = 0
            while not await anyio.Path(gate).exists():
                waited += 1
                await asyncio.sleep(0.1)
            ctx.log.info("the gate opened after %.1f s", waited / 10)
        failing = ctx.get("fail") == f"{step}|{zone}|{ctx.parallel_idx}"
        if fix and failing and not await anyio.Path(fix).exists():
            ctx.log.error("the observer exited at once: exit code 1, port in use")
            raise RuntimeError(f"observer #{ctx.parallel_idx} of {zone} cannot start: exit code 1")
        _record_service_time(ctx, step, zone)
        ctx.log.info("%s done", step)


def _record_service_time(ctx: RunContext, step: str, zone: str) -> None:
    """What the real restart steps record of a server: START_SERVICE_TIME before and after (epoch µs)."""
    lists = [k for k in ctx.context.list_map if k.endswith(f".{zone}.server_ids")]
    if ctx.parallel_idx < 0 or not lists:
        return
    server = ctx.parallel_value(lists[0])
    if step == "Prepare restart observer":
        ctx.put(f"server.{server}.start_service_time_before", 1_700_000_000_000_000 + int(server))
    if step == "Wait observer accessible":
        ctx.put(f"server.{server}.start_service_time_after", int(time.time() * 1_000_000))


# A zone's chain of "Restart OB cluster", as obcp.operations.templates builds it: (step, fan-out, joined).
RESTART_ZONE_CHAIN = [
    ("Prepare restart OB zone", False, False),
    ("Prepare restart observer", True, True),
    ("Stop observer process", True, True),
    ("Start observer process", True, False),
    ("Wait observer accessible", True, False),
    ("Start OCP agent service", True, True),
    ("Start server", True, True),
    ("Update restart observer status", True, False),
    ("Start zone", False, False),
    ("Update restart zone status", False, False),
]


def restart_like_template(cluster_id: int, zones: list[str], *, rolling: bool) -> Template:
    """The shape and names of a real "Restart OB cluster" (7n + 7 subtasks a zone of n servers), the
    per-server steps fanning out over the cluster's `<clusterId>.<zone>.server_ids` as the real ones do; each
    step is a RestartLikeStep, so no observer is needed."""
    b = TemplateBuilder("Restart OB cluster")
    tail = b.add(RestartLikeStep, name="Prepare restart cluster")
    start = tail = b.add(RestartLikeStep, after=[tail], name="Set zone context")
    ends = []
    for zone in zones:
        after = [tail if rolling else start]
        for step, fan_out, joined in RESTART_ZONE_CHAIN:
            split = f"{cluster_id}.{zone}.server_ids" if fan_out else None
            p = {"zone": zone, "step": step}
            after = [b.add(RestartLikeStep, after=after, split_key=split, name=step, params=p)]
            if joined:
                after = [b.add(RestartLikeStep, after=after, name="Wait node")]
        tail = after[0]
        ends.append(tail)
    sync = b.add(RestartLikeStep, after=[tail] if rolling else ends, name="Sync cluster info")
    tenants = b.add(RestartLikeStep, after=[sync], name="Sync all tenant info")
    b.add(RestartLikeStep, after=[tenants], name="Update OB cluster status")
    return b.build()
