"""Every error leaves as an OCP error envelope with a numeric code; nothing leaves as a bare 500 page."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from obcp.api.envelope import error_response
from obcp.api.middleware import MAX_BODY_BYTES
from obcp.api.security_headers import headers_for
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import metadb_unreachable

log = logging.getLogger("obcp.api")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    subs: list[dict[str, Any]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "json_invalid":
            subs.append({"object": "body", "field": "body", "message": "the body is not valid JSON"})
            continue
        sub: dict[str, Any] = {
            "object": str(loc[0]) if loc else "request",
            "field": _field(loc),
            "message": err.get("msg", "invalid"),
        }
        value = err.get("input")
        # Echo small scalar values only: an echoed password or key would be a leak.
        small = isinstance(value, int | float | bool) or (isinstance(value, str) and len(value) <= 64)
        if isinstance(value, str) and small:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: not echoed
                small = False
        secret = "password" in sub["field"].lower() or "key" in sub["field"].lower()
        if small and not secret:
            sub["rejectedValue"] = value
        subs.append(sub)
    summary = "; ".join(f"{s['field']}: {s['message']}" for s in subs)
    return summary, subs


def metadb_unavailable(request_line: str, exc: BaseException) -> Response:
    """The 503 answered while the metadb cannot be reached (the exception text may name the metadb's host
    and user: only its class is logged)."""
    log.warning("metadb unreachable on %s: %s", request_line, type(exc).__name__)
    code = ErrorCode.METADB_UNAVAILABLE
    return error_response(code.http_status, code.code, code.format())


def install(app: FastAPI) -> None:
    @app.exception_handler(ObcpError)
    async def _obcp(_: Request, exc: ObcpError) -> Response:
        code = exc.error_code
        return error_response(
            code.http_status,
            code.code,
            exc.message,
            target=exc.target,
            sub_errors=exc.sub_errors,
            debug_message=exc.debug_message,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        summary, subs = _validation_message(list(exc.errors()))
        code = ErrorCode.ILLEGAL_ARGUMENT
        return error_response(code.http_status, code.code, code.format(summary), sub_errors=subs)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(
                404, ErrorCode.NOT_FOUND.code, f"No API at {request.method} {request.url.path}."
            )
        if exc.status_code == 405:
            code = ErrorCode.METHOD_NOT_SUPPORTED
            return error_response(405, code.code, code.format(f"{request.method} {request.url.path}"))
        if exc.status_code == 413:
            code = ErrorCode.PAYLOAD_TOO_LARGE
            return error_response(413, code.code, code.format(MAX_BODY_BYTES))
        code = ErrorCode.BAD_REQUEST
        return error_response(exc.status_code, code.code, code.format(str(exc.detail)))

    _install_metadb(app)
    app.add_exception_handler(Exception, unhandled)


def _install_metadb(app: FastAPI) -> None:
    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # The metadb refused a value (PostgreSQL: a NUL character; MySQL: too long for its column, out of
        # range). The exception text quotes the statement's parameters, so only the driver's class is logged.
        kind = type(exc.orig).__name__
        log.info("metadb refused a value on %s %s: %s", request.method, request.url.path, kind)
        code = ErrorCode.ILLEGAL_ARGUMENT
        return error_response(
            code.http_status,
            code.code,
            code.format("a text field (the metadb refused it: too long, or a NUL or control character)"),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DBAPIError)
    async def _metadb(request: Request, exc: Exception) -> Response:
        if metadb_unreachable(exc):
            return metadb_unavailable(f"{request.method} {request.url.path}", exc)
        return await unhandled(request, exc)


async def unhandled(request: Request, exc: Exception) -> Response:
    # The exception text may quote SQL parameters or secrets: it goes to the server log only.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    code = ErrorCode.UNKNOWN
    response = error_response(
        500, code.code, code.format(type(exc).__name__, "see the server log for this traceId")
    )
    # Sent from outside every middleware (Starlette's ServerErrorMiddleware): the headers are added here.
    response.headers.update(headers_for(request.url.scheme))
    return response
