"""Browser sessions of the web console: a random id in an HttpOnly cookie, kept in the metadb; a CSRF token.

The session lives in the metadb (as a SHA-256 of its id) so that any server replica can answer any request of
the same browser. A session ends after `idle_seconds` without a request, after `max_seconds` in all, at
logout (with every other session of its user), and when its user's password or roles change or the user is
locked (the user's credential_epoch moves past the session's). A state-changing request made with the
cookie must repeat the session's CSRF token in the `X-CSRF-Token` header: a cross-site page can make the
browser send the cookie but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

from obcp import audit
from obcp.api.envelope import OcpJSONResponse, error_response
from obcp.errors import ErrorCode
from obcp.iam import store
from obcp.iam.store import Principal
from obcp.meta.db import Database, now_ms
from obcp.meta.session_tables import web_session

SESSION_COOKIE = "obcp_session"
CSRF_COOKIE = "obcp_csrf"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionSettings(BaseSettings):
    """From OBCP_SESSION_* variables."""

    model_config = SettingsConfigDict(env_prefix="OBCP_SESSION_", extra="ignore")

    idle_seconds: int = 30 * 60
    max_seconds: int = 12 * 3600
    # last_seen_at is written at most this often per session, so reads do not turn into writes.
    touch_seconds: int = 30


@lru_cache(maxsize=1)
def settings() -> SessionSettings:
    return SessionSettings()


@dataclass(frozen=True)
class Session:
    id_hash: str
    csrf_token: str
    principal: Principal


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookie(scope: Scope, name: str) -> str | None:
    raw = header(scope, b"cookie")
    # Starlette's lenient parser: another application's odd cookie on the same host must not hide ours.
    value = cookie_parser(raw).get(name) if raw else None
    return value or None


async def create(db: Database, user_id: int) -> tuple[str, str]:
    """A new session for the user: (session id for the cookie, CSRF token). Purges expired sessions."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    now = now_ms()
    s = settings()
    async with db.tx() as conn:
        await conn.execute(delete(web_session).where(_expired(now, s)))
        user = await store.get_user(conn, user_id)
        await conn.execute(
            insert(web_session).values(
                id_hash=_hash(session_id),
                user_id=user_id,
                csrf_token=csrf_token,
                credential_epoch=user.credential_epoch,
                created_at=now,
                last_seen_at=now,
            )
        )
        await audit.record(conn, resource_id=user_id)
    return session_id, csrf_token


async def end_all(db: Database, session_id: str) -> None:
    """Logout: ends this session and every other session and cached credential of its user, everywhere."""
    async with db.tx() as conn:
        row = (
            await conn.execute(select(web_session).where(web_session.c.id_hash == _hash(session_id)))
        ).first()
        if row is not None:
            await store.end_credentials(conn, row.user_id)
            await conn.execute(delete(web_session).where(web_session.c.user_id == row.user_id))


async def keep_current(db: Database, scope: Scope, user_id: int) -> None:
    """After the caller's own password or roles changed (which ended all its sessions): the session that made
    the change goes on, under the user's new credential epoch."""
    session_id = cookie(scope, SESSION_COOKIE)
    if not session_id:
        return
    async with db.tx() as conn:
        user = await store.get_user(conn, user_id)
        await conn.execute(
            update(web_session)
            .where(web_session.c.id_hash == _hash(session_id), web_session.c.user_id == user_id)
            .values(credential_epoch=user.credential_epoch)
        )


def _expired(now: int, s: SessionSettings) -> ColumnElement[bool]:
    return or_(
        web_session.c.last_seen_at < now - s.idle_seconds * 1000,
        web_session.c.created_at < now - s.max_seconds * 1000,
    )


async def resolve(db: Database, session_id: str) -> Session | None:
    """The live session of this id with its user's current permissions; None if expired or unknown."""
    id_hash = _hash(session_id)
    now = now_ms()
    s = settings()
    async with db.read() as conn:
        row = (await conn.execute(select(web_session).where(web_session.c.id_hash == id_hash))).first()
        if row is None:
            return None
        idle = row.last_seen_at < now - s.idle_seconds * 1000
        if idle or row.created_at < now - s.max_seconds * 1000:
            return None
        user = await store.find_user_by_id(conn, row.user_id)
        # A password change, a role change, a lock or a logout since the session began ends it.
        if user is None or not user.enabled or user.credential_epoch != row.credential_epoch:
            return None
        principal = await store.principal(conn, user)
    if now - row.last_seen_at >= s.touch_seconds * 1000:
        async with db.tx() as conn:
            await conn.execute(
                update(web_session).where(web_session.c.id_hash == id_hash).values(last_seen_at=now)
            )
    return Session(id_hash, row.csrf_token, principal)


async def delete_session(db: Database, session_id: str, *, audited: bool = False) -> None:
    """`audited`: this is the call's change (a logout), its audit event goes in the same transaction."""
    async with db.tx() as conn:
        await conn.execute(delete(web_session).where(web_session.c.id_hash == _hash(session_id)))
        if audited:
            await audit.record(conn)


def csrf_ok(scope: Scope, session: Session) -> bool:
    sent = header(scope, CSRF_HEADER) or ""
    return hmac.compare_digest(sent.encode(), session.csrf_token.encode())


def csrf_refused() -> OcpJSONResponse:
    code = ErrorCode.NOT_AUTHORIZED
    return error_response(code.http_status, code.code, code.format("a valid X-CSRF-Token header"))


def not_logged_in(browser: bool) -> OcpJSONResponse:
    """401 (3000); without the Basic challenge for a browser page, so it shows no password dialog."""
    code = ErrorCode.NOT_LOGGED_IN
    response = error_response(code.http_status, code.code, code.format())
    if browser and "www-authenticate" in response.headers:
        del response.headers["www-authenticate"]
    return response


def is_browser(scope: Scope) -> bool:
    return cookie(scope, SESSION_COOKIE) is not None or header(scope, b"x-requested-with") is not None


def set_cookies(response: Response, session_id: str, csrf_token: str, secure: bool) -> None:
    s = settings()
    # No Max-Age on the session cookie: it ends with the browser, and the metadb decides expiry anyway.
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/")
    # Readable by the page (it sends it back in X-CSRF-Token); useless to another site, which cannot read it.
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        max_age=s.max_seconds,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
