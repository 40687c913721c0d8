"""Guessing stops: failed logins counted in the metadb (owner of `iam_login_failure`), seen by every replica.

A user that fails `max_failures` times within `failure_window_seconds` is locked for `lock_seconds`: every
attempt is refused with 3003 until then, the right password too. A name that is no user is counted the same
way (under an HMAC of it, never what was typed), so its answers cannot tell it from a user; those rows are
bounded by `unknown_names_max`. An address that fails `address_max_failures` times, whichever names it
tried, is refused with 3014 for `lock_seconds`. Settings: OBCP_LOGIN_* (docs/security.md, "Guessing stops").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp import audit
from obcp.iam import store
from obcp.meta.db import Database, now_ms
from obcp.meta.login_tables import iam_login_failure

USER = "user:"
NAME = "name:"
ADDRESS = "addr:"


class LoginSettings(BaseSettings):
    """From OBCP_LOGIN_* variables."""

    model_config = SettingsConfigDict(env_prefix="OBCP_LOGIN_", extra="ignore")

    max_failures: int = 5
    failure_window_seconds: int = 15 * 60
    lock_seconds: int = 15 * 60
    address_max_failures: int = 50
    # Rows kept for names that are no user (and for addresses): a flood of new names cannot grow the table.
    unknown_names_max: int = 10_000


@lru_cache(maxsize=1)
def settings() -> LoginSettings:
    return LoginSettings()


def user_subject(username: str) -> str:
    return USER + username


def unknown_subject(name_mac: str) -> str:
    return NAME + name_mac[:64]


def address_subject(address: str) -> str:
    return ADDRESS + address[:64]


@dataclass(frozen=True)
class Standing:
    """What the failures recorded so far say about an attempt, before its credentials are checked."""

    failures: int
    locked: bool
    address_restricted: bool


async def standing(conn: AsyncConnection, subject: str, address: str | None) -> Standing:
    subjects = [subject] + ([address_subject(address)] if address else [])
    rows = (
        await conn.execute(select(iam_login_failure).where(iam_login_failure.c.subject.in_(subjects)))
    ).all()
    now = now_ms()
    since = now - settings().failure_window_seconds * 1000
    failures, locked, restricted = 0, False, False
    for row in rows:
        if row.subject != subject and row.subject != address_subject(address or ""):
            continue  # MySQL's collation matches other cases of the name
        is_locked = row.locked_until is not None and row.locked_until > now
        if row.subject == subject:
            locked = is_locked
            failures = row.failures if row.first_failed_at >= since else 0
        else:
            restricted = is_locked
    return Standing(failures, locked, restricted)


async def record_failure(db: Database, subject: str | None, address: str | None) -> int:
    """Counts a failed attempt against `subject` and `address`; the tries the subject has left (0: it is
    locked now). Two replicas counting at once both count: the row is locked, or inserted once."""
    for attempt in range(3):
        try:
            async with db.tx() as conn:
                left = settings().max_failures
                if subject is not None:
                    left = await _count(conn, subject, settings().max_failures)
                if address:
                    await _count(conn, address_subject(address), settings().address_max_failures)
                return left
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _count(conn: AsyncConnection, subject: str, limit: int) -> int:
    now = now_ms()
    s = settings()
    since = now - s.failure_window_seconds * 1000
    row = (
        await conn.execute(
            select(iam_login_failure).where(iam_login_failure.c.subject == subject).with_for_update()
        )
    ).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return 0
    if row is None:
        if not await _room_for(conn, subject, now, since):
            return limit - 1
        await conn.execute(insert(iam_login_failure).values(subject=subject, failures=1, first_failed_at=now))
        failures = 1
    elif row.first_failed_at < since or row.locked_until is not None:
        failures = 1
        await conn.execute(
            update(iam_login_failure)
            .where(iam_login_failure.c.subject == subject)
            .values(failures=1, first_failed_at=now, locked_until=None)
        )
    else:
        failures = row.failures + 1
        await conn.execute(
            update(iam_login_failure).where(iam_login_failure.c.subject == subject).values(failures=failures)
        )
    if failures >= limit:
        await lock(conn, subject, now + s.lock_seconds * 1000)
        return 0
    return limit - failures


async def _room_for(conn: AsyncConnection, subject: str, now: int, since: int) -> bool:
    """Forgets what is over, and says whether a new row of an unknown name or an address still fits."""
    await conn.execute(
        delete(iam_login_failure).where(
            iam_login_failure.c.first_failed_at < since,
            or_(iam_login_failure.c.locked_until.is_(None), iam_login_failure.c.locked_until < now),
        )
    )
    if subject.startswith(USER):
        return True  # bounded by the number of users
    prefix = subject.split(":", 1)[0] + ":"
    count = (
        await conn.execute(
            select(func.count())
            .select_from(iam_login_failure)
            .where(iam_login_failure.c.subject.startswith(prefix, autoescape=True))
        )
    ).scalar_one()
    return bool(count < settings().unknown_names_max)


async def lock(conn: AsyncConnection, subject: str, until: int) -> None:
    """Where a user (or a name, or an address) gets locked; a user's sessions and cached credentials end."""
    await conn.execute(
        update(iam_login_failure).where(iam_login_failure.c.subject == subject).values(locked_until=until)
    )
    if subject.startswith(USER):
        user = await store.find_user(conn, subject[len(USER) :])
        if user is not None:
            await store.end_credentials(conn, user.id)
            await audit.record_user_lock(
                conn, user_id=user.id, user_name=user.username, locked=True, reason="too many failed logins"
            )


async def unlock(conn: AsyncConnection, username: str) -> bool:
    """Where a user gets unlocked (and its failures forgotten); True if it was locked."""
    subject = user_subject(username)
    row = (
        await conn.execute(select(iam_login_failure).where(iam_login_failure.c.subject == subject))
    ).first()
    await conn.execute(delete(iam_login_failure).where(iam_login_failure.c.subject == subject))
    return row is not None and row.locked_until is not None and row.locked_until > now_ms()


async def forget_failures(db: Database, subject: str) -> None:
    """After a successful login: the failures before it no longer count."""
    async with db.tx() as conn:
        await conn.execute(
            delete(iam_login_failure).where(
                and_(iam_login_failure.c.subject == subject, iam_login_failure.c.locked_until.is_(None))
            )
        )


async def locks_of(conn: AsyncConnection, usernames: list[str]) -> dict[str, int]:
    """When the lock of each locked user among `usernames` ends (epoch ms)."""
    subjects = [user_subject(n) for n in usernames]
    rows = (
        await conn.execute(
            select(iam_login_failure).where(
                iam_login_failure.c.subject.in_(subjects), iam_login_failure.c.locked_until > now_ms()
            )
        )
    ).all()
    return {r.subject[len(USER) :]: int(r.locked_until) for r in rows if r.subject in subjects}
