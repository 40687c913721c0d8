"""KeyedLocks: holders of one key take turns, other keys do not wait, and nothing is kept once released."""

from __future__ import annotations

import asyncio

from obcp.api.keyed_locks import KeyedLocks


async def test_one_key_is_held_by_one_at_a_time_and_forgotten_after() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    most = 0

    async def hold(key: int, name: str) -> None:
        nonlocal most
        async with locks.hold(key):
            inside.append(name)
            most = max(most, sum(1 for n in inside if n.startswith(f"{key}:")))
            await asyncio.sleep(0.01)
            inside.remove(name)

    await asyncio.gather(*(hold(1, f"1:{i}") for i in range(5)), *(hold(2, f"2:{i}") for i in range(3)))
    assert most == 1 and inside == [] and len(locks) == 0


async def test_another_key_does_not_wait() -> None:
    locks = KeyedLocks()
    async with locks.hold("a"):
        async with asyncio.timeout(1):
            async with locks.hold("b"):
                assert len(locks) == 2
    assert len(locks) == 0


async def test_a_holder_that_fails_releases_the_key() -> None:
    locks = KeyedLocks()
    try:
        async with locks.hold(7):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(1):
        async with locks.hold(7):
            pass
    assert len(locks) == 0
