"""`obcp` signing its requests with an access key (OCP 4.x AK/SK) instead of sending a password."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from obcp.iam import ak_signature as sig


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    secret: str


class AccessKeyAuth(httpx.Auth):
    """Adds Date and the signed Authorization header to each request, from its final bytes."""

    requires_request_body = True

    def __init__(self, key: AccessKey) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Date"] = sig.http_date(datetime.now(UTC))
        parts = sig.SignedParts(
            method=request.method,
            body=request.content,
            content_type=request.headers.get("Content-Type", ""),
            date=request.headers["Date"],
            host=request.headers["Host"],
            headers=tuple(request.headers.items()),
            path=request.url.raw_path.decode("ascii").split("?", 1)[0],
            query=request.url.query.decode("ascii"),
        )
        signature = sig.sign(self.key.secret, parts.string_to_sign())
        request.headers["Authorization"] = f"{sig.SCHEME} {self.key.key_id}:{signature}"
        yield request
