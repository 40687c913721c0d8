"""Requests signed with an access key (OCP 4.x AK/SK), checked in the authentication middleware.

The body is read here to hash it, then replayed to the route unchanged; it passes through the body limit
first, which refuses more than 1 MiB. A request that changes something (not GET or HEAD) is accepted once:
its signature is recorded in the metadb, so the same signature is refused as a replay on every replica.
The key's row is read at every request (as the user's row is for Basic), so a disabled or deleted key is
refused at once; only the decryption of its secret is cached, keyed by the stored ciphertext.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from starlette.types import Message, Receive, Scope

from obcp.errors import ErrorCode, ObcpError
from obcp.iam import access_keys, lockout, store
from obcp.iam import ak_signature as sig
from obcp.iam.store import Principal
from obcp.meta.db import Database
from obcp.secretbox import SecretBox

UNCHANGING_METHODS = frozenset({"GET", "HEAD"})


def client_address(scope: Scope) -> str | None:
    """The caller's IP address (behind a proxy, uvicorn's FORWARDED_ALLOW_IPS makes it the client's)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def refused(reason: str) -> ObcpError:
    return ObcpError(ErrorCode.SIGNATURE_REFUSED, reason)


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it to the route as if it were read for the first time."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _text(raw: bytes) -> str:
    # A client signs the header's text: UTF-8 in practice; latin-1 decodes any other bytes.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), _text(v)) for k, v in scope.get("headers", [])]


def _one(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


def signed_parts(scope: Scope, body: bytes) -> sig.SignedParts:
    headers = _headers(scope)
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return sig.SignedParts(
        method=scope["method"],
        body=body,
        content_type=_one(headers, "content-type"),
        date=_one(headers, "date"),
        host=_one(headers, "host"),
        headers=tuple(headers),
        path=path.split("?", 1)[0],
        query=scope.get("query_string", b"").decode("latin-1"),
    )


def check_date(value: str, now: float) -> datetime:
    if not value:
        raise refused("a signed request needs a Date header (RFC 1123, GMT)")
    date = sig.parse_date(value)
    if date is None:
        raise refused(f"the Date header {json.dumps(value)} is not an RFC 1123 date")
    skew = abs(date.timestamp() - now)
    if skew > sig.WINDOW_SECONDS:
        server = sig.http_date(datetime.fromtimestamp(now, UTC))
        raise refused(
            f"the Date of the request ({sig.http_date(date)}) is {int(skew)} seconds from the server's clock "
            f"({server}); at most {sig.WINDOW_SECONDS} seconds are allowed"
        )
    return date


class AccessKeyVerifier:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box
        self._secrets: dict[str, str] = {}

    def _secret(self, secret_enc: str) -> str:
        secret = self._secrets.get(secret_enc)
        if secret is None:
            secret = self.box.decrypt(secret_enc)
            if len(self._secrets) > 10_000:
                self._secrets.clear()
            self._secrets[secret_enc] = secret
        return secret

    async def _failed(self, subject: str | None, address: str | None, string_to_sign: str) -> None:
        """A wrong signature is a failed login of the key's user: 3004 with the tries left, then 3003."""
        left = await lockout.record_failure(self.db, subject, address)
        if not left:
            raise ObcpError(ErrorCode.ACCOUNT_LOCKED)
        signed = json.dumps(string_to_sign)
        why = f"the signature does not match the request; the string the server signed is {signed}"
        raise ObcpError(ErrorCode.SIGNATURE_RETRY, left, why)

    async def verify(self, scope: Scope, authorization: str, body: bytes) -> Principal:
        """The principal of a correctly signed request; raises the 401 that says what failed."""
        credential = sig.parse_authorization(authorization)
        if credential is None:
            raise refused(f"the Authorization header is not '{sig.SCHEME} <AccessKeyId>:<Signature>'")
        parts = signed_parts(scope, body)
        date = check_date(parts.date, time.time())
        key_id = credential.access_key_id[:64]
        address = client_address(scope)
        async with self.db.read() as conn:
            key = await access_keys.find_key(conn, key_id)
            subject = lockout.user_subject(key.user.username) if key is not None else None
            standing = await lockout.standing(conn, subject or "", address)
            if standing.address_restricted:
                raise ObcpError(ErrorCode.ADDRESS_RESTRICTED, address)
            if key is None:
                await lockout.record_failure(self.db, None, address)
                raise refused(f"the access key {json.dumps(key_id)} does not exist")
            if standing.locked:
                raise ObcpError(ErrorCode.ACCOUNT_LOCKED)
            if key.status != access_keys.ACTIVE:
                raise refused(f"the access key {key_id} is disabled")
            if not key.user.enabled:
                raise refused(f"the user of the access key {key_id} is disabled")
            string_to_sign = parts.string_to_sign()
            if not sig.signature_matches(self._secret(key.secret_enc), string_to_sign, credential.signature):
                await self._failed(subject, address, string_to_sign)
            principal = await store.principal(conn, key.user)
        if standing.failures and subject:
            await lockout.forget_failures(self.db, subject)
        if parts.method.upper() not in UNCHANGING_METHODS:
            expires = int((date.timestamp() + sig.WINDOW_SECONDS) * 1000) + 1
            if not await access_keys.first_use(self.db, key_id, credential.signature, expires):
                raise refused(
                    "this signed request was already accepted once (a replay); a request that changes "
                    "something must be signed anew, with a new Date"
                )
        await access_keys.touch(self.db, key)
        return principal
