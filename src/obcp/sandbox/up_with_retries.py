"""`sandbox up` tried again from scratch when it fails before anything was registered.

Ports are planned before the observers start; another sandbox on this machine can take one in between. A
purged sandbox plans afresh, and nothing was registered yet (registration comes last).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from obcp.sandbox.down import sandbox_down
from obcp.sandbox.up import SandboxError, ServerApiSettings, UpResult, sandbox_up


async def up_with_retries(
    root: Path,
    zones: int,
    per_zone: int,
    name: str,
    api: ServerApiSettings,
    say: Callable[[str], None],
    attempts: int = 3,
) -> UpResult:
    for attempt in range(1, attempts + 1):
        try:
            return await sandbox_up(root, zones, per_zone, name, api, say)
        except SandboxError as exc:
            if attempt == attempts:
                raise
            say(f"up failed ({exc}); purging it and trying again")
            await sandbox_down(root, True, say)
            await asyncio.sleep(2 * attempt)
    raise AssertionError("unreachable")
