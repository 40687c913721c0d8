"""GET /metrics: the replica's Prometheus exposition, for a caller with METRICS:*:READ (a user, an access
key, or the bearer token made for Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from obcp.api.auth import METRICS_PATH, METRICS_PERMISSION, require
from obcp.api.deps import RuntimeDep
from obcp.metrics_listener import CONTENT_TYPE

router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False, dependencies=[Depends(require(METRICS_PERMISSION))])
async def metrics(rt: RuntimeDep) -> Response:
    return Response(await rt.metrics.render(rt.db), media_type=CONTENT_TYPE)
