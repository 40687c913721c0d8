"""Notification channels (`/api/v2/alarm/channels`, OCP's alarm channels) and their deliveries.

A channel is an HTTP webhook: a URL, optional headers, a signing secret (write-only) and its subscriptions.
Permissions are OCP's alarm resource: `ALARM:*:READ` to read, `ALARM:*:CREATE`, `ALARM:{id}:UPDATE` and
`ALARM:{id}:DELETE` to change (ALARM_VIEWER and ALARM_MANAGER, CLUSTER_VIEWER and CLUSTER_MANAGER).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import DbDep, SecretBoxDep
from obcp.api.envelope import OcpJSONResponse, no_data, ok, paged
from obcp.api.paging import PageQuery, page_query
from obcp.api.params import MAX_ID, IdPath
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.notify import channels, deliveries
from obcp.notify.channels import ChannelFields
from obcp.notify.events import Event, Subscription

router = APIRouter(tags=["alarm channels"])

EventName = Literal["TASK_FAILED", "TASK_SUCCESSFUL", "PARAMETER_PENDING_RESTART"]
TaskName = Annotated[str, Field(min_length=1, max_length=128)]
ClusterId = Annotated[int, Field(ge=1, le=MAX_ID)]


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: EventName
    taskNames: list[TaskName] = Field(default_factory=list, max_length=50, description="any task when empty")
    clusterIds: list[ClusterId] = Field(default_factory=list, max_length=100, description="any when empty")

    def subscription(self) -> Subscription:
        return Subscription(Event(self.event), tuple(self.taskNames), tuple(self.clusterIds))


Headers = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=4096)]]
Secret = Annotated[str, Field(min_length=16, max_length=256, description="signs each delivery (write-only)")]


class ChannelCreate(BaseModel):
    name: str = Field(max_length=64)
    type: str = Field("HTTP", max_length=16, description="OCP's channel type; obcp sends HTTP webhooks")
    url: str = Field(max_length=1024, description="http:// or https://, inside OBCP_CONNECT_ALLOW when set")
    headers: Headers | None = Field(None, description="extra request headers (sensitive values masked)")
    secret: Secret
    subscriptions: list[SubscriptionBody] = Field(min_length=1, max_length=20)
    enabled: bool = True
    description: str | None = Field(None, max_length=255)


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=64)
    url: str | None = Field(None, max_length=1024)
    headers: Headers | None = None
    secret: Secret | None = None
    subscriptions: list[SubscriptionBody] | None = Field(None, min_length=1, max_length=20)
    enabled: bool | None = None
    description: str | None = Field(None, max_length=255)

    @model_validator(mode="after")
    def _something(self) -> ChannelUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


def _fields(body: ChannelCreate | ChannelUpdate) -> ChannelFields:
    subs = None if body.subscriptions is None else [s.subscription() for s in body.subscriptions]
    return ChannelFields(
        name=body.name,
        url=body.url,
        headers=body.headers,
        secret=body.secret,
        subscriptions=subs,
        enabled=body.enabled,
        description=body.description,
    )


@router.get("/api/v2/alarm/channels", summary="List notification channels")
async def list_channels(
    db: DbDep,
    box: SecretBoxDep,
    name: str | None = Query(None, max_length=64, description="part of the name"),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("ALARM:*:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        total, rows = await channels.list_channels(conn, name, pq)
    return paged([channels.channel_json(r, box) for r in rows], pq.result_page(total))


@router.post("/api/v2/alarm/channels", summary="Create a notification channel (an HTTP webhook)")
async def create_channel(
    db: DbDep, box: SecretBoxDep, body: ChannelCreate, who: Principal = Depends(require("ALARM:*:CREATE"))
) -> OcpJSONResponse:
    if body.type.upper() != channels.TYPE_HTTP:
        raise ObcpError(ErrorCode.ALARM_METHOD_UNSUPPORTED, body.type)
    try:
        async with db.tx() as conn:
            row = await channels.create(conn, box, _fields(body), who.username)
            await audit.record(conn, resource_id=row.id)
    except IntegrityError as exc:  # a concurrent creation of the same name won the race
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NAME_EXISTS, body.name) from exc
    return ok(channels.channel_json(row, box))


@router.get("/api/v2/alarm/channels/{channelId}", summary="A notification channel")
async def get_channel(
    db: DbDep, box: SecretBoxDep, channelId: IdPath, _: Principal = Depends(require("ALARM:{channelId}:READ"))
) -> OcpJSONResponse:
    async with db.read() as conn:
        return ok(channels.channel_json(await channels.get(conn, channelId), box))


@router.put("/api/v2/alarm/channels/{channelId}", summary="Change a notification channel")
async def update_channel(
    db: DbDep,
    box: SecretBoxDep,
    channelId: IdPath,
    body: ChannelUpdate,
    _: Principal = Depends(require("ALARM:{channelId}:UPDATE")),
) -> OcpJSONResponse:
    try:
        async with db.tx() as conn:
            row = await channels.update_channel(conn, box, channelId, _fields(body))
            await audit.record(conn)
    except IntegrityError as exc:
        raise ObcpError(ErrorCode.ALARM_CHANNEL_NAME_EXISTS, body.name) from exc
    return ok(channels.channel_json(row, box))


@router.delete(
    "/api/v2/alarm/channels/{channelId}", summary="Delete a notification channel and its deliveries"
)
async def delete_channel(
    db: DbDep, channelId: IdPath, _: Principal = Depends(require("ALARM:{channelId}:DELETE"))
) -> OcpJSONResponse:
    async with db.tx() as conn:
        await channels.delete_channel(conn, channelId)
        await audit.record(conn)
    return no_data()


@router.get("/api/v2/alarm/channels/{channelId}/deliveries", summary="A channel's deliveries and attempts")
async def list_deliveries(
    db: DbDep,
    channelId: IdPath,
    status: Literal["PENDING", "SENT", "FAILED"] | None = Query(None),
    event: EventName | None = Query(None),
    pq: PageQuery = Depends(page_query),
    _: Principal = Depends(require("ALARM:{channelId}:READ")),
) -> OcpJSONResponse:
    async with db.read() as conn:
        # The page's sort is checked first, so bad paging is a 400 whether or not the channel exists.
        total, views = await deliveries.list_deliveries(conn, channelId, status, event, pq)
        if total == 0:
            await channels.get(conn, channelId)
    return paged(views, pq.result_page(total))
