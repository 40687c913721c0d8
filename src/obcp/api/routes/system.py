"""OCP's "other" endpoints: application info, server time, application status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from obcp import __version__
from obcp.api.auth import authenticated
from obcp.api.deps import RuntimeDep
from obcp.api.transport import plain_http_warning
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
    runtime: RuntimeDep,
    include_unavailable_component: bool = Query(False, alias="includeUnavailableComponent"),
) -> PlainTextResponse:
    bad: list[str] = []
    try:
        async with runtime.db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        bad.append("metadb")
    answer = "bad" if bad else "okay"
    if bad and include_unavailable_component:
        answer += " " + ",".join(bad)
    warning = plain_http_warning(runtime.settings)
    if warning is None:
        return PlainTextResponse(answer)
    # The first word stays what a health check compares; the warning is a header, and in the text when
    # the caller asks for the details.
    if include_unavailable_component:
        answer += f" warning: {warning}"
    return PlainTextResponse(answer, headers={"Warning": f'199 obcp "{warning}"'})


def _python_version() -> str:
    import platform

    return platform.python_version()
