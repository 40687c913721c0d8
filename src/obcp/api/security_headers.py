"""The headers every answer of the server carries — console pages, static files, the API, its errors:
a strict Content-Security-Policy (the console's scripts and styles are files of its own origin, nothing
inline, no eval), no framing, no MIME sniffing, no Referer, and HSTS when the answer went over TLS.

No CORS header is ever added: the API serves its own console and non-browser clients, so a browser on
another origin gets no `Access-Control-Allow-Origin`, let alone `*`."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obcp.api.transport import HSTS

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_OURS = {name for name, _ in HEADERS} | {b"strict-transport-security", b"access-control-allow-origin"}


def headers_for(scheme: str) -> dict[str, str]:
    """The headers as a mapping, for the one answer this middleware never sees: the 500 that Starlette's
    outermost error middleware sends for an unhandled exception."""
    found = {name.decode(): value.decode() for name, value in HEADERS}
    if scheme == "https":
        found["strict-transport-security"] = HSTS
    return found


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*HEADERS]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours replace whatever a handler set, so no route can loosen them or answer CORS.
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
