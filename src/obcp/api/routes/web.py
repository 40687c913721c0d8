"""The web console: session login and logout (`/api/v2/iam/login`, `/logout`), its pages and static files.

The pages are plain HTML, CSS and JavaScript from `obcp.web` (no build step, no CDN); they call the same
`/api/v2/...` routes as any client, authenticated by the session cookie instead of Basic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.staticfiles import StaticFiles

from obcp import audit, web
from obcp.api import sessions
from obcp.api.deps import AuthenticatorDep, DbDep
from obcp.api.envelope import OcpJSONResponse, error_response, no_data, ok
from obcp.api.signed_requests import client_address
from obcp.errors import ObcpError
from obcp.meta.db import Database

router = APIRouter(tags=["iam"])

STATIC_DIR = Path(web.__file__).parent / "static"

# The Content-Security-Policy and the other security headers are added to every answer by
# obcp.api.security_headers; the pages are never cached, since they depend on the session.
PAGE_HEADERS = {"Cache-Control": "no-store"}


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128, description="write-only")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.post("/api/v2/iam/login", summary="Log in the web console (sets the session and CSRF cookies)")
async def login(request: Request, authenticator: AuthenticatorDep, db: DbDep, body: Login) -> OcpJSONResponse:
    audit.identify(body.username)
    try:
        principal = await authenticator.basic(body.username, body.password, client_address(request.scope))
    except ObcpError as exc:
        # One answer for an unknown user and a wrong password (3004 with the tries left), so neither can be
        # probed; 3003 once locked, 3014 for an address that failed too often. No Basic challenge.
        code = exc.error_code
        response = error_response(code.http_status, code.code, exc.message)
        if "www-authenticate" in response.headers:
            del response.headers["www-authenticate"]
        return response
    audit.identify(principal.username, principal.id)
    previous = sessions.cookie(request.scope, sessions.SESSION_COOKIE)
    if previous:
        await sessions.delete_session(db, previous)
    session_id, csrf_token = await sessions.create(db, principal.id)
    response = ok(
        {
            "username": principal.username,
            "csrfToken": csrf_token,
            "idleTimeoutSeconds": sessions.settings().idle_seconds,
        }
    )
    sessions.set_cookies(response, session_id, csrf_token, _secure(request))
    return response


@router.post("/api/v2/iam/logout", summary="Log out of the web console")
async def logout(request: Request, db: DbDep) -> OcpJSONResponse:
    session_id = sessions.cookie(request.scope, sessions.SESSION_COOKIE)
    if session_id:
        session = await sessions.resolve(db, session_id)
        if session is not None and not sessions.csrf_ok(request.scope, session):
            return sessions.csrf_refused()
        if session is not None:
            audit.identify(session.principal.username, session.principal.id)
            await sessions.end_all(db, session_id)
        await sessions.delete_session(db, session_id, audited=True)
    response = no_data()
    sessions.clear_cookies(response)
    return response


async def _logged_in(request: Request, db: Database) -> bool:
    session_id = sessions.cookie(request.scope, sessions.SESSION_COOKIE)
    return bool(session_id) and await sessions.resolve(db, session_id or "") is not None


@router.get("/", include_in_schema=False, response_model=None)
async def console(request: Request, db: DbDep) -> Response:
    if not await _logged_in(request, db):
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(web.page("console.html"), headers=PAGE_HEADERS)


@router.get("/login", include_in_schema=False, response_model=None)
async def login_page(request: Request, db: DbDep) -> Response:
    if await _logged_in(request, db):
        return RedirectResponse("/", status_code=303)
    return HTMLResponse(web.page("login.html"), headers=PAGE_HEADERS)


def static_files() -> Any:
    """The console's scripts, styles and vendored libraries, mounted at /static (no credentials needed)."""
    return StaticFiles(directory=STATIC_DIR)
