"""OCP's "other" endpoints: application info, server time, application status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from obcp import __version__
from obcp.api.auth import authenticated
from obcp.api.deps import DbDep
from obcp.timefmt import now_iso

router = APIRouter(tags=["system"])


@router.get(
    "/api/v2/info", dependencies=[Depends(authenticated)], summary="Basic information of the application"
)
async def info() -> JSONResponse:
    # Bare JSON, no envelope, as OCP documents it.
    return JSONResponse(
        {
            "artifact": "obcp-server",
            "buildVersion": __version__,
            "group": "io.obcp",
            "name": "obcp-server",
            "pythonVersion": _python_version(),
        }
    )


@router.get("/api/v2/time", summary="Server time (no authentication)")
async def server_time() -> PlainTextResponse:
    return PlainTextResponse(now_iso())


@router.get("/api/status", dependencies=[Depends(authenticated)], summary="Application status: okay or bad")
async def status(
    db: DbDep,
    include_unavailable_component: bool = Query(False, alias="includeUnavailableComponent"),
) -> PlainTextResponse:
    bad: list[str] = []
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        bad.append("metadb")
    if not bad:
        return PlainTextResponse("okay")
    return PlainTextResponse("bad " + ",".join(bad) if include_unavailable_component else "bad")


def _python_version() -> str:
    import platform

    return platform.python_version()
