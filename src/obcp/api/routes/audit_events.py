"""The audit trail (`GET /api/v2/audit/events`): who changed what, from where, with which result; OCP's
AUDIT:*:READ permission (its AUDIT_VIEWER role)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from obcp import audit
from obcp.api.auth import require
from obcp.api.deps import DbDep
from obcp.api.envelope import OcpJSONResponse, paged
from obcp.api.paging import PageQuery, page_query
from obcp.errors import ErrorCode, ObcpError
from obcp.iam.store import Principal
from obcp.timefmt import iso_ms

router = APIRouter(tags=["audit"])

READ = Depends(require("AUDIT:*:READ"))


def _epoch_ms(name: str, text: str | None) -> int | None:
    """An ISO-8601 time (as the API answers them; without an offset: the server's zone) in epoch ms."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        example = "an ISO-8601 time, e.g. 2026-01-31T08:00:00Z"
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"{name} ({example})") from exc
    return int(parsed.astimezone().timestamp() * 1000)


def _result(text: str | None) -> str | None:
    if text is None:
        return None
    wanted = text.strip().upper()
    if wanted not in audit.RESULTS:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"result {text!r} (SUCCESS or FAILED)")
    return wanted


def event_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "createTime": iso_ms(row.created_at),
        "userName": row.user_name,
        "userId": row.user_id,
        "accessKeyId": row.access_key_id,
        "clientIpAddress": row.client_address,
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "result": row.result,
        "errorCode": row.error_code,
        "traceId": row.trace_id,
        "summary": audit.summary_of(row),
    }


@router.get("/api/v2/audit/events", summary="List audit events (newest first)")
async def list_audit_events(
    db: DbDep,
    start_time: str | None = Query(None, alias="startTime", max_length=64, description="ISO-8601, inclusive"),
    end_time: str | None = Query(None, alias="endTime", max_length=64, description="ISO-8601, inclusive"),
    user_name: str | None = Query(None, alias="userName", max_length=64),
    access_key_id: str | None = Query(None, alias="accessKeyId", max_length=64),
    action: str | None = Query(None, max_length=64, description="e.g. CLUSTER_RESTART, LOGIN"),
    resource_type: str | None = Query(None, alias="resourceType", max_length=32),
    resource_id: str | None = Query(None, alias="resourceId", max_length=128),
    result: str | None = Query(None, max_length=16, description="SUCCESS or FAILED"),
    pq: PageQuery = Depends(page_query),
    _: Principal = READ,
) -> OcpJSONResponse:
    start, end = _epoch_ms("startTime", start_time), _epoch_ms("endTime", end_time)
    if start is not None and end is not None and start > end:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, "startTime (it is after endTime)")
    filters = audit.EventFilter(
        start_ms=start,
        end_ms=end,
        user_name=user_name,
        action=action.upper() if action else None,
        resource_type=resource_type.upper() if resource_type else None,
        resource_id=resource_id,
        result=_result(result),
        access_key_id=access_key_id,
    )
    async with db.read() as conn:
        total, rows = await audit.list_events(conn, filters, pq)
    return paged([event_json(r) for r in rows], pq.result_page(total))
