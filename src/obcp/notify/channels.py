"""Notification channels (the `alarm_channel` table's owner): checked, stored with their secret and headers
encrypted by the server's secret box, and shown without the secret (and with sensitive header values masked).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.alarm_tables import alarm_channel
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.paging import Pager
from obcp.meta.reencrypt import Rotated, reencrypt_column
from obcp.netpolicy import DestinationRefused, check_destination
from obcp.notify import deliveries
from obcp.notify.events import Event, Subscription, subscriptions_from_text, subscriptions_to_text
from obcp.secretbox import SecretBox
from obcp.timefmt import iso_ms

TYPE_HTTP = "HTTP"
MASK = "******"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$")
# Headers obcp sets itself: a channel may not replace them.
RESERVED = {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
_SENSITIVE = re.compile(r"auth|token|secret|key|password|cookie|signature", re.I)

CHANNEL_SORTS: dict[str, ColumnElement[Any]] = {
    "id": alarm_channel.c.id,
    "name": alarm_channel.c.name,
    "createTime": alarm_channel.c.created_at,
}


@dataclass(frozen=True)
class ChannelFields:
    """A channel as a request gives it; None keeps the stored value (an update)."""

    name: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    secret: str | None = None
    subscriptions: list[Subscription] | None = None
    enabled: bool | None = None
    description: str | None = None


def checked_name(name: str) -> str:
    if not name:
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NAME_REQUIRED)
    if name != name.strip():
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NAME_INVALID, name)
    return name


def checked_url(url: str) -> str:
    """An http(s) URL with a host and no credentials, whose host OBCP_CONNECT_ALLOW lets obcp reach."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ObcpError(ErrorCode.ALARM_URL_INVALID, f"{exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ObcpError(ErrorCode.ALARM_URL_INVALID, "an http:// or https:// URL with a host is required")
    if parts.username is not None or parts.password is not None:
        raise ObcpError(ErrorCode.ALARM_URL_INVALID, "credentials in the URL: give them as a header")
    if any(c.isspace() for c in url) or port == 0:
        raise ObcpError(ErrorCode.ALARM_URL_INVALID, "spaces or port 0 in the URL")
    try:
        check_destination(_host(parts.hostname), "notification channel")
    except DestinationRefused as exc:
        raise ObcpError(ErrorCode.ALARM_ADDRESS_UNAVAILABLE, str(exc)) from None
    return url


def _host(hostname: str) -> str:
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        return hostname


def checked_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > 32:
        raise ObcpError(ErrorCode.ALARM_HEADER_INVALID, "(more than 32 headers)")
    for name, value in headers.items():
        if not _TOKEN.match(name) or name.lower() in RESERVED or name.lower().startswith("x-obcp-"):
            raise ObcpError(ErrorCode.ALARM_HEADER_INVALID, f"{name!r} (a token, not one obcp sets itself)")
        if len(value) > 4096 or not all(c == "\t" or " " <= c <= "~" for c in value):
            raise ObcpError(
                ErrorCode.ALARM_HEADER_INVALID,
                f"{name!r} (its value: printable ASCII on one line, at most 4096)",
            )
    return headers


def checked_subscriptions(subscriptions: list[Subscription]) -> list[Subscription]:
    for s in subscriptions:
        if s.event is Event.PARAMETER_PENDING_RESTART and s.task_names:
            raise ObcpError(ErrorCode.ALARM_BAD_REQUEST, "subscriptions.taskNames (not for parameter events)")
    return subscriptions


async def create(conn: AsyncConnection, box: SecretBox, fields: ChannelFields, creator: str) -> Any:
    assert fields.name is not None and fields.url is not None and fields.secret is not None
    now = now_ms()
    name = checked_name(fields.name)
    values = {
        "name": name,
        "type": TYPE_HTTP,
        "url": checked_url(fields.url),
        "headers_enc": box.encrypt(json.dumps(checked_headers(fields.headers or {}))),
        "secret_enc": box.encrypt(fields.secret),
        "subscriptions": subscriptions_to_text(checked_subscriptions(fields.subscriptions or [])),
        "enabled": True if fields.enabled is None else fields.enabled,
        "description": fields.description,
        "creator": creator,
        "created_at": now,
        "updated_at": now,
    }
    await _name_free(conn, name)
    result = await conn.execute(alarm_channel.insert().values(**values))
    return await get(conn, inserted_id(result))


async def _name_free(conn: AsyncConnection, name: str, other_than: int | None = None) -> None:
    """6050 when another channel has the name (a concurrent twin is caught by the unique index: the route
    answers its IntegrityError with the same code)."""
    query = select(alarm_channel.c.id).where(alarm_channel.c.name == name)
    if other_than is not None:
        query = query.where(alarm_channel.c.id != other_than)
    if (await conn.execute(query)).first() is not None:
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NAME_EXISTS, name)


async def get(conn: AsyncConnection, channel_id: int) -> Any:
    row = (await conn.execute(select(alarm_channel).where(alarm_channel.c.id == channel_id))).first()
    if row is None:
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NOT_FOUND, channel_id)
    return row


async def list_channels(conn: AsyncConnection, name: str | None, pager: Pager) -> tuple[int, list[Any]]:
    where = [alarm_channel.c.name.icontains(name, autoescape=True)] if name else []
    total = (await conn.execute(select(func.count()).select_from(alarm_channel).where(*where))).scalar_one()
    query = pager.apply(select(alarm_channel).where(*where), CHANNEL_SORTS, alarm_channel.c.id)
    return int(total), list((await conn.execute(query)).all())


async def update_channel(
    conn: AsyncConnection, box: SecretBox, channel_id: int, fields: ChannelFields
) -> Any:
    await get(conn, channel_id)
    values: dict[str, Any] = {"updated_at": now_ms()}
    if fields.name is not None:
        values["name"] = checked_name(fields.name)
        await _name_free(conn, fields.name, channel_id)
    if fields.url is not None:
        values["url"] = checked_url(fields.url)
    if fields.headers is not None:
        values["headers_enc"] = box.encrypt(json.dumps(checked_headers(fields.headers)))
    if fields.secret is not None:
        values["secret_enc"] = box.encrypt(fields.secret)
    if fields.subscriptions is not None:
        values["subscriptions"] = subscriptions_to_text(checked_subscriptions(fields.subscriptions))
    if fields.enabled is not None:
        values["enabled"] = fields.enabled
    if fields.description is not None:
        values["description"] = fields.description
    await conn.execute(update(alarm_channel).where(alarm_channel.c.id == channel_id).values(**values))
    return await get(conn, channel_id)


async def delete_channel(conn: AsyncConnection, channel_id: int) -> None:
    await get(conn, channel_id)
    await deliveries.delete_of_channel(conn, channel_id)
    await conn.execute(delete(alarm_channel).where(alarm_channel.c.id == channel_id))


def channel_json(row: Any, box: SecretBox) -> dict[str, Any]:
    """OCP's channel object; the secret is write-only, sensitive header values are masked."""
    headers = json.loads(box.decrypt(row.headers_enc)) if row.headers_enc else {}
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "url": row.url,
        "headers": {k: (MASK if _SENSITIVE.search(k) else v) for k, v in headers.items()},
        "secretConfigured": True,
        "subscriptions": [s.as_json() for s in subscriptions_from_text(row.subscriptions)],
        "enabled": bool(row.enabled),
        "description": row.description,
        "creator": row.creator,
        "createTime": iso_ms(row.created_at),
        "updateTime": iso_ms(row.updated_at),
    }


@dataclass(frozen=True)
class Subscriber:
    id: int
    subscriptions: list[Subscription]


def subscribers(conn: Connection) -> list[Subscriber]:
    """Every enabled channel and what it subscribes to (synchronous: read in the event's transaction)."""
    query = select(alarm_channel.c.id, alarm_channel.c.subscriptions).where(alarm_channel.c.enabled.is_(True))
    return [Subscriber(int(r.id), subscriptions_from_text(r.subscriptions)) for r in conn.execute(query)]


@dataclass(frozen=True)
class Target:
    """What a sender needs of a channel to make one attempt (the secret decrypted only then)."""

    url: str
    headers: dict[str, str]
    secret: str


def target(row: Any, box: SecretBox) -> Target:
    headers = json.loads(box.decrypt(row.headers_enc)) if row.headers_enc else {}
    return Target(row.url, headers, box.decrypt(row.secret_enc))


async def reencrypt_secrets(db: Database, box: SecretBox) -> Rotated:
    """The channels' signing secrets under the box's writing key (the secret key's rotation)."""
    return await reencrypt_column(db, alarm_channel, alarm_channel.c.id, alarm_channel.c.secret_enc, box)


async def reencrypt_headers(db: Database, box: SecretBox) -> Rotated:
    """The channels' headers (they may carry tokens) under the box's writing key."""
    return await reencrypt_column(db, alarm_channel, alarm_channel.c.id, alarm_channel.c.headers_enc, box)
