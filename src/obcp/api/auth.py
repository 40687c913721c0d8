"""Authentication in a middleware, so it precedes everything else: HTTP Basic, requests signed with an access
key (`obcp.api.signed_requests`), the console's session cookie, and on GET /metrics only the bearer token made
for Prometheus (`OBCP_METRICS_TOKEN_FILE`); and permission checks.

Verifying an argon2id hash costs ~20 ms of CPU, so it runs in a thread, and a verified credential is cached
for a short while keyed by an HMAC of user and password. The cached entry also holds the password hash and the
user's credential epoch it was verified under, so a password change, a role change, a lock or a logout (on
any replica) invalidates it at once. Every password that is checked goes through the lockout
(`obcp.iam.lockout`): failures are counted in the metadb, per user and per address.

When a cached credential expires, every client polling with it misses at once: a request that misses while
the same credential is being checked waits for that check instead of making its own (bench/fleet: 150
followers made up to 150 argon2id checks, ~3.5 s of CPU, at every expiry). Only a success is shared: a
request that waited for a failure is checked, and counted, on its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from obcp import audit
from obcp.api import sessions
from obcp.api.envelope import error_response
from obcp.api.errors import metadb_unavailable
from obcp.api.signed_requests import AccessKeyVerifier, client_address, read_body
from obcp.errors import ErrorCode, ObcpError
from obcp.iam import lockout, store
from obcp.iam.ak_signature import is_signed, parse_authorization
from obcp.iam.passwords import verify_password
from obcp.iam.store import Principal
from obcp.meta.db import Database, metadb_unreachable
from obcp.secretbox import SecretBox
from obcp.tracing import trace_id_var

log = logging.getLogger("obcp.api")

# Routes under /api that answer without credentials (OCP's default whitelist has /api/v2/time too).
PUBLIC_PATHS = frozenset(
    {"/api/v2/time", "/api/v2/openapi.json", "/api/v2/docs", "/api/v2/iam/login", "/api/v2/iam/logout"}
)
# Outside /api but behind the same authentication: the Prometheus exposition.
METRICS_PATH = "/metrics"
METRICS_PERMISSION = "METRICS:*:READ"
# Who a request with the metrics bearer token is: allowed to read the metrics and nothing else.
METRICS_TOKEN_PRINCIPAL = Principal(0, "metrics-token", (), frozenset({METRICS_PERMISSION}))
MIN_TOKEN_LENGTH = 16


@dataclass
class _CacheEntry:
    user_id: int
    password_hash: str
    credential_epoch: int
    expires: float


class Authenticator:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        ttl: float,
        *,
        metrics_token: str | None = None,
        on_refusal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.db = db
        self.box = box
        self.ttl = ttl
        self.metrics_token = metrics_token
        # Told why each refused request was refused (the server's metrics).
        self.refused = on_refusal
        self._cache: dict[str, _CacheEntry] = {}
        # The credentials (by cache key) being checked now; each event is set when its check ends.
        self._checking: dict[str, asyncio.Event] = {}
        self.signed = AccessKeyVerifier(db, box)

    async def basic(self, username: str, password: str, address: str | None = None) -> Principal:
        """The user of a name and password; raises 3004 (tries left), 3003 (locked) or 3014 (address).

        A known user with a wrong password, an unknown name, a locked user: each costs one argon2id check and
        one counted failure, so neither the answer nor its time tells them apart."""
        # No user can have a NUL or over-long name, and PostgreSQL refuses a NUL in a query parameter.
        valid_name = "\x00" not in username and len(username) <= 64
        key = self.box.mac(f"{username}\0{password}")
        while True:
            entry = self._cache.get(key)
            if entry is not None and entry.expires > time.monotonic():
                # Every request with a cached credential: one read, in one hand-off to the driver.
                if valid_name:
                    user, roles = await self.db.read_whole(lambda conn: store.user_and_roles(conn, username))
                else:
                    user, roles = None, []
                if user is not None and user.enabled and self._current(entry, user):
                    # A lock or a password change raised the epoch: a cached success outlives neither.
                    return store.principal_of(user, roles)
            checking = self._checking.get(key)
            if checking is None:
                break
            await checking.wait()  # then the cache holds its success, or this request is checked on its own
        self._checking[key] = checked = asyncio.Event()
        try:
            return await self._check(key, username, valid_name, password, address)
        finally:
            del self._checking[key]
            checked.set()

    async def _check(
        self, key: str, username: str, valid_name: bool, password: str, address: str | None
    ) -> Principal:
        """A credential that is not cached: one argon2id check, counted by the lockout."""
        async with self.db.read() as conn:
            user = await _enabled_user(conn, username, valid_name)
            subject = (
                lockout.user_subject(username)
                if user is not None
                else lockout.unknown_subject(self.box.mac(username))
            )
            standing = await lockout.standing(conn, subject, address)
        good_hash = user.password_hash if user is not None else _DUMMY_HASH
        matches = await anyio.to_thread.run_sync(verify_password, good_hash, password)
        if standing.address_restricted:
            raise ObcpError(ErrorCode.ADDRESS_RESTRICTED, address)
        if standing.locked:
            raise ObcpError(ErrorCode.ACCOUNT_LOCKED)
        if user is None or not matches:
            left = await lockout.record_failure(self.db, subject, address)
            raise ObcpError(ErrorCode.LOGIN_RETRY, left) if left else ObcpError(ErrorCode.ACCOUNT_LOCKED)
        if standing.failures:
            await lockout.forget_failures(self.db, subject)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = _CacheEntry(
            user.id, user.password_hash, user.credential_epoch, time.monotonic() + self.ttl
        )
        return await self._principal(user)

    @staticmethod
    def _current(entry: _CacheEntry, user: Any) -> bool:
        same_hash = entry.password_hash == user.password_hash
        return bool(same_hash and entry.credential_epoch == user.credential_epoch)

    async def _principal(self, user: Any) -> Principal:
        async with self.db.read() as conn:
            return await store.principal(conn, user)

    def bearer(self, scope: Scope, header: str) -> Principal | None:
        """The metrics token, on GET /metrics only: everywhere else a bearer token is no credential."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or scope["path"] != METRICS_PATH or not self.metrics_token:
            return None
        if hmac.compare_digest(token.strip().encode(), self.metrics_token.encode()):
            return METRICS_TOKEN_PRINCIPAL
        return None


def read_metrics_token(path: Path | None) -> str | None:
    """The token in the file (surrounding whitespace dropped); refuses to start on a short or empty one."""
    if path is None:
        return None
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"OBCP_METRICS_TOKEN_FILE {path}: cannot read it ({exc.strerror})") from exc
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ValueError(
            f"OBCP_METRICS_TOKEN_FILE {path}: the token must be at least {MIN_TOKEN_LENGTH} characters "
            "without spaces (e.g. `openssl rand -hex 24`)"
        )
    return token


async def _enabled_user(conn: Any, username: str, valid_name: bool) -> Any:
    """The enabled user of exactly this name, or None."""
    user = await store.find_user(conn, username) if valid_name else None
    # MySQL's default collation finds "ADMIN" or "admin " for "admin": only the exact name logs in.
    if user is not None and (user.username != username or not user.enabled):
        return None
    return user


def _dummy_hash() -> str:
    from obcp.iam.passwords import hash_password

    return hash_password("obcp-timing-equaliser")


_DUMMY_HASH = _dummy_hash()


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class AuthMiddleware:
    """Every /api path outside PUBLIC_PATHS needs valid credentials, checked before routing and validation."""

    def __init__(self, app: ASGIApp, authenticator_of: Callable[[], Authenticator]) -> None:
        self.app = app
        self.authenticator_of = authenticator_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            principal, receive, refusal = await self._principal(scope, header, receive)
        except Exception as exc:
            # Users, keys and sessions live in the metadb: without it nobody can be checked (503, not a 500).
            if not metadb_unreachable(exc):
                raise
            await metadb_unavailable(f"{scope['method']} {scope['path']}", exc)(scope, receive, send)
            return
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if principal is None:
            session_id = None if header else sessions.cookie(scope, sessions.SESSION_COOKIE)
            reason = _refusal_reason(header, session_id)
            self.authenticator_of().refused(reason)
            await sessions.not_logged_in(sessions.is_browser(scope))(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        if principal is not METRICS_TOKEN_PRINCIPAL:
            audit.attribute(principal.username, principal.id)
        await self.app(scope, receive, send)

    async def _principal(
        self, scope: Scope, header: str, receive: Receive
    ) -> tuple[Principal | None, Receive, ASGIApp | None]:
        """Who calls (None: nobody known), the `receive` to go on with (a signed request's body has been read
        to check its hash), and the answer that refuses the call outright, if any."""
        auth = self.authenticator_of()
        if header and is_signed(header):
            body, receive = await read_body(receive)
            credential = parse_authorization(header)
            key_id = credential.access_key_id[:64] if credential else ""
            try:
                principal = await auth.signed.verify(scope, header, body)
                audit.attribute(principal.username, principal.id, key_id)
                return principal, receive, None
            except ObcpError as exc:
                auth.refused("access_key")
                await self._audit_failure(scope, exc.error_code.code, access_key_id=key_id)
                code = exc.error_code
                return None, receive, error_response(code.http_status, code.code, exc.message)
        session_id = None if header else sessions.cookie(scope, sessions.SESSION_COOKIE)
        if session_id:
            # The console's cookie stands in for Basic; what it changes must also carry the CSRF token.
            session = await sessions.resolve(auth.db, session_id)
            if session is None:
                return None, receive, None
            audit.attribute(session.principal.username, session.principal.id)
            if scope["method"] not in sessions.SAFE_METHODS and not sessions.csrf_ok(scope, session):
                auth.refused("csrf")
                return None, receive, sessions.csrf_refused()
            return session.principal, receive, None
        if header.lower().startswith("bearer "):
            return auth.bearer(scope, header), receive, None
        creds = parse_basic(header) if header else None
        if creds is None:
            return None, receive, None
        try:
            return await auth.basic(*creds, client_address(scope)), receive, None
        except ObcpError as exc:
            auth.refused(_basic_reason(exc))
            await self._audit_failure(scope, exc.error_code.code, user_name=creds[0])
            code = exc.error_code
            return None, receive, error_response(code.http_status, code.code, exc.message)

    async def _audit_failure(
        self, scope: Scope, code: int, *, user_name: str | None = None, access_key_id: str | None = None
    ) -> None:
        """A failed login's audit event (the password or signature never in it)."""
        try:
            await audit.record_login_failure(
                self.authenticator_of().db,
                client_address=client_address(scope) or "",
                trace_id=trace_id_var.get(),
                method=scope["method"],
                path=scope["path"],
                user_name=user_name,
                access_key_id=access_key_id,
                error_code=code,
            )
        except Exception as exc:  # the metadb away: the caller gets its 401 all the same
            log.warning("audit event of a failed login not written: %s", type(exc).__name__)


def _basic_reason(exc: ObcpError) -> str:
    if exc.error_code is ErrorCode.ACCOUNT_LOCKED:
        return "locked"
    if exc.error_code is ErrorCode.ADDRESS_RESTRICTED:
        return "address_restricted"
    return "bad_password"


def _protected(path: str) -> bool:
    return (path.startswith("/api/") and path not in PUBLIC_PATHS) or path == METRICS_PATH


def _refusal_reason(header: str, session_id: str | None) -> str:
    if session_id:
        return "session"  # expired, logged out or unknown
    if not header:
        return "no_credentials"
    scheme = header.partition(" ")[0].lower()
    if scheme == "bearer":
        return "bad_token"
    return "bad_password" if parse_basic(header) is not None else "malformed"


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # only reachable for a route mounted outside /api
        raise ObcpError(ErrorCode.NOT_LOGGED_IN)
    assert isinstance(principal, Principal)
    return principal


PermissionDependency = Callable[[Request], Awaitable[Principal]]


def require(template: str) -> PermissionDependency:
    """A dependency that answers 403 (3100) unless the caller holds `template` formatted with path params."""

    async def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        params: dict[str, Any] = dict(request.path_params)
        needed = template.format(**params)
        if not principal.can(needed):
            raise ObcpError(ErrorCode.NOT_AUTHORIZED, needed)
        return principal

    dependency.permission_template = template  # type: ignore[attr-defined]
    return dependency


async def authenticated(request: Request) -> Principal:
    """For a caller's own resources (its profile, its password): any logged-in user."""
    return current_principal(request)
