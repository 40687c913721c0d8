"""The steps' calls to a host's agent, and what a step does when the agent goes away in the middle of one.

A start or stop whose connection drops after it was sent (`AgentError.lost`: the agent was killed or
restarted while it worked) may or may not have happened. The step does not fail blindly: it waits for the
agent to answer again (a new agent adopts the observer it finds running, `obcp.agent.pid_file`), then asks
for the same thing again. Both are idempotent, so the new agent's answer is the outcome: "already
running as pid N" when the start had gone through, a start when it had not. An agent that does not come
back within `AGENT_RETURN_SECONDS` fails the step, naming the host and how long it waited; task retry
resumes it. Any other failure (refused, no answer in time, an error answer) fails the step at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from obcp.agent.client import AgentError
from obcp.engine import RunContext
from obcp.meta.inventory import ServerRef
from obcp.operations.common import label
from obcp.operations.services import OperationServices, describe_process

# How long a step waits for an agent that dropped its call to answer again (a restart of the agent).
AGENT_RETURN_SECONDS = 60.0
POLL_SECONDS = 1.0

Action = Literal["start", "stop"]


async def agent_status(ctx: RunContext, ref: ServerRef) -> dict[str, Any]:
    try:
        return await OperationServices.of(ctx).agent(ref).status(ref.observer_name, ports=False)
    except AgentError as exc:
        raise RuntimeError(f"{label(ref)}: {exc}") from exc


async def observer_action(ctx: RunContext, ref: ServerRef, action: Action) -> dict[str, Any]:
    """The agent's answer to a start or stop of the server's observer; see the module's docstring."""
    agent = OperationServices.of(ctx).agent(ref)
    call = agent.start if action == "start" else agent.stop
    try:
        return await call(ref.observer_name)
    except AgentError as exc:
        if not exc.lost:
            raise RuntimeError(f"{label(ref)}: {exc}") from exc
        ctx.log.warning(
            "%s: %s; the %s may or may not have happened: asking the agent once it answers again",
            label(ref),
            exc,
            action,
        )
    status = await _status_when_back(ctx, ref, action)
    ctx.log.info(
        "%s: the agent answers again and reports the observer %s; %s it again (idempotent: its answer "
        "is the outcome)",
        label(ref),
        describe_process(status),
        "starting" if action == "start" else "stopping",
    )
    try:
        return await call(ref.observer_name)
    except AgentError as exc:
        raise RuntimeError(f"{label(ref)}: {exc}") from exc


async def _status_when_back(ctx: RunContext, ref: ServerRef, action: Action) -> dict[str, Any]:
    agent = OperationServices.of(ctx).agent(ref)
    started = time.monotonic()
    while True:
        try:
            return await agent.status(ref.observer_name, ports=False)
        except AgentError as exc:
            waited = time.monotonic() - started
            if waited >= AGENT_RETURN_SECONDS:
                raise RuntimeError(
                    f"{label(ref)}: agent {exc.host}: {action} observer {ref.observer_name}: the connection "
                    f"dropped during the call and the agent has not answered again for {waited:.0f} s "
                    f"(last: {exc.message}); whether the {action} happened is unknown: retry the task once "
                    "the agent runs"
                ) from exc
        await asyncio.sleep(POLL_SECONDS)
