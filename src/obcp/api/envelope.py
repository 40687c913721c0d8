"""OCP's response envelope, byte for byte: sorted keys at every level, nulls omitted, trimmed ISO times.

Every route answers through `ok`, `paged`, `iterable` or `no_data`; errors through `error_response`. The trace
id, start time and server address of the current request are kept in context variables by
`obcp.api.middleware.TraceMiddleware`.
"""

from __future__ import annotations

import json
import math
import socket
import time
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from obcp.timefmt import now_iso
from obcp.tracing import trace_id_var

MAX_SAFE_JS_INT = 2**53 - 1

start_var: ContextVar[float] = ContextVar("obcp_request_start", default=0.0)


def new_trace_id() -> str:
    return uuid.uuid4().hex[:16]


def _server_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


SERVER_ADDRESS = _server_address()


def clean(value: Any) -> Any:
    """The JSON value as OCP's Jackson writes it: no nulls, enums by name, big longs as strings."""
    # The common exact types first: a task list page of 3 x 10 restarts holds ~5,000 subtasks (bench/fleet).
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        return str(value) if abs(value) > MAX_SAFE_JS_INT else value
    if kind is dict:
        cleaned = {str(k): clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None}
    if kind is list:
        return [clean(v) for v in value]
    return _clean_other(value)


def _clean_other(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return clean(value.model_dump(by_alias=True, exclude_none=True, mode="json"))
    if isinstance(value, dict):
        # Cleaned first: a value that cleans to nothing (NaN) is omitted like a null.
        cleaned = {str(k): clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, Enum):
        return value.name if not isinstance(value.value, str) else value.value
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_SAFE_JS_INT:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> bytes:
    text = json.dumps(clean(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (from a `\ud800` escape in a request) cannot be UTF-8: it becomes "?", not a 500.
    return text.encode("utf-8", "replace")


def envelope(status: int, *, data: Any = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    start = start_var.get()
    duration = int((time.monotonic() - start) * 1000) if start else 0
    body: dict[str, Any] = {
        "duration": duration,
        "server": SERVER_ADDRESS,
        "status": status,
        "successful": 200 <= status < 300,
        "timestamp": now_iso(),
        "traceId": trace_id_var.get(),
    }
    if data is not None:
        body["data"] = data
    if error is not None:
        body["error"] = error
    return body


class OcpJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def ok(data: Any = None, status: int = 200) -> OcpJSONResponse:
    return OcpJSONResponse(envelope(status, data=data), status_code=status)


@dataclass(frozen=True)
class EncodedData:
    """A `data` value already cleaned and encoded by `dumps`: a view many followers are sent unchanged
    (a task GET of a 3 x 10 restart spent more CPU cleaning and encoding 236 subtasks than reading them)."""

    body: bytes


class EncodedDataResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        data: EncodedData = content[0]
        rest: dict[str, Any] = content[1]
        # "data" sorts before every other key of the envelope, so the encoded value goes first as is.
        return b'{"data":' + data.body + b"," + dumps(rest)[1:]


def ok_encoded(data: EncodedData, status: int = 200) -> EncodedDataResponse:
    return EncodedDataResponse((data, envelope(status)), status_code=status)


def no_data() -> OcpJSONResponse:
    """OCP's NoDataResponse: the envelope without a `data` key."""
    return ok(None)


def iterable(contents: Sequence[Any]) -> OcpJSONResponse:
    return ok({"contents": list(contents)})


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    size: int
    total_elements: int

    @property
    def total_pages(self) -> int:
        return (self.total_elements + self.size - 1) // self.size if self.size else 0

    def as_json(self) -> dict[str, int]:
        return {
            "number": self.number,
            "size": self.size,
            "totalElements": self.total_elements,
            "totalPages": self.total_pages,
        }


def paged(contents: Sequence[Any], page: Page) -> OcpJSONResponse:
    return ok({"contents": list(contents), "page": page.as_json()})


def printable(text: str) -> str:
    """Control characters (and lone surrogates) of echoed input written as escapes, so a message stays one
    readable line in a client's log."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def error_body(
    status: int,
    code: int,
    message: str,
    *,
    debug_message: str | None = None,
    sub_errors: list[dict[str, Any]] | None = None,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": printable(message)}
    if debug_message:
        error["debugMessage"] = printable(debug_message)
    if sub_errors:
        error["subErrors"] = sub_errors
    if target:
        error["target"] = target
    return envelope(status, error=error)


def error_response(status: int, code: int, message: str, **kwargs: Any) -> OcpJSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="obcp"'} if status == 401 else {}
    if trace_id_var.get():
        headers["x-trace-id"] = trace_id_var.get()
    return OcpJSONResponse(error_body(status, code, message, **kwargs), status_code=status, headers=headers)
