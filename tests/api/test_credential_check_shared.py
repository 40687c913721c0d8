"""A credential's argon2id check is shared by the requests that miss the cache while it runs (the cache
expires for every poller at once), but a failure never is: each wrong attempt is checked and counted."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from obcp.api import auth as auth_module
from obcp.api.auth import Authenticator
from obcp.errors import ErrorCode, ObcpError
from obcp.iam import passwords, store
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade
from obcp.secretbox import SecretBox

PASSWORD = "poller-password-1"


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argon2id checks made, each slowed so that the requests that miss overlap it."""
    made: list[str] = []
    lock = threading.Lock()

    def counted(password_hash: str, password: str) -> bool:
        with lock:
            made.append(password)
        threading.Event().wait(0.2)
        return passwords.verify_password(password_hash, password)

    monkeypatch.setattr(auth_module, "verify_password", counted)
    return made


async def _authenticator(tmp_path: Path) -> tuple[Database, Authenticator]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    db = Database(url)
    await store.ensure_defaults(db, PASSWORD)
    return db, Authenticator(db, SecretBox(Fernet.generate_key()), ttl=60)


def test_requests_that_miss_together_share_one_check(tmp_path: Path, checks: list[str]) -> None:
    async def scenario() -> list[object]:
        db, authenticator = await _authenticator(tmp_path)
        try:
            return await asyncio.gather(*(authenticator.basic("admin", PASSWORD) for _ in range(20)))
        finally:
            await db.dispose()

    principals = asyncio.run(scenario())
    assert [getattr(p, "username", None) for p in principals] == ["admin"] * 20
    assert checks == [PASSWORD], f"{len(checks)} checks for one credential missed at once"


def test_a_failed_check_is_not_shared(tmp_path: Path, checks: list[str]) -> None:
    async def scenario() -> list[BaseException | object]:
        db, authenticator = await _authenticator(tmp_path)
        try:
            attempts = (authenticator.basic("admin", "wrong-password") for _ in range(3))
            return await asyncio.gather(*attempts, return_exceptions=True)
        finally:
            await db.dispose()

    answers = asyncio.run(scenario())
    codes = [a.error_code for a in answers if isinstance(a, ObcpError)]
    assert len(codes) == 3, answers
    # Each wrong attempt was checked and counted by the lockout: the tries left went down one by one.
    assert codes == [ErrorCode.LOGIN_RETRY] * 3, codes
    assert checks == ["wrong-password"] * 3
    left = sorted(str(a) for a in answers)
    assert len(set(left)) == 3, left
