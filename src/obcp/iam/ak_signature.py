"""OCP 4.x AccessKey signatures: what a signed request carries, the string it signs, and the check.

A client sends `Authorization: OCP-ACCESS-KEY-HMACSHA1 <AccessKeyId>:<Signature>` and `Date: <RFC 1123>`.
The signature is Base64(HMAC-SHA1(AccessKeySecret, string to sign)), the string to sign being these lines
joined by `\\n`: the method; the upper-case hex MD5 of the body (empty without one); the Content-Type as
sent (empty when absent); the Date as sent; the Host as sent; every `x-ocp-*` header as `name:value`,
sorted by name, one a line (nothing when none); the path as sent, then `?` and the query parameters sorted
by key, key and value percent-encoded with nothing safe, joined by `&`.

The query is canonicalised from the values the server will read (`+` is a space, as for the route), so the
signature covers exactly what the request means; repeated keys keep the order in which they were sent.
Pure functions only: the middleware (`obcp.api.signed_requests`) reads the request and the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl, quote

SCHEME = "OCP-ACCESS-KEY-HMACSHA1"
# OCP refuses a Date more than 15 minutes from its clock; a used signature is remembered that long.
WINDOW_SECONDS = 15 * 60
OCP_HEADER_PREFIX = "x-ocp-"


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    signature: str


def is_signed(authorization: str) -> bool:
    """Whether the header uses the AccessKey scheme at all (well formed or not)."""
    return authorization.split(" ", 1)[0].upper() == SCHEME


def parse_authorization(authorization: str) -> Credential | None:
    """`OCP-ACCESS-KEY-HMACSHA1 <id>:<signature>`: the scheme in upper case, one space; else None."""
    scheme, sep, rest = authorization.partition(" ")
    if scheme != SCHEME or not sep:
        return None
    key_id, sep, signature = rest.partition(":")
    if not sep or not key_id or not signature or not key_id.isprintable() or " " in key_id:
        return None
    return Credential(key_id, signature.strip())


def parse_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 1123 dates are GMT; "-0000" parses as naive
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def md5_payload(body: bytes) -> str:
    return hashlib.md5(body).hexdigest().upper() if body else ""


def ocp_headers(headers: Iterable[tuple[str, str]]) -> str:
    lines = [(n.lower(), v.strip()) for n, v in headers if n.lower().startswith(OCP_HEADER_PREFIX)]
    return "\n".join(f"{n}:{v}" for n, v in sorted(lines, key=lambda nv: nv[0]))


def path_and_query(path: str, query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return path
    ordered = sorted(pairs, key=lambda kv: kv[0])  # stable: repeated keys keep the order sent
    return path + "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in ordered)


@dataclass(frozen=True)
class SignedParts:
    """What a request signs, as the server received it."""

    method: str
    body: bytes
    content_type: str
    date: str
    host: str
    headers: tuple[tuple[str, str], ...]
    path: str
    query: str

    def string_to_sign(self) -> str:
        return "\n".join(
            [
                self.method.upper(),
                md5_payload(self.body),
                self.content_type,
                self.date,
                self.host,
                ocp_headers(self.headers),
                path_and_query(self.path, self.query),
            ]
        )


def sign(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_matches(secret: str, string_to_sign: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, string_to_sign).encode(), signature.encode("utf-8", "replace"))
