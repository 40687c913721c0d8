"""The CLI's HTTP client of an obcp server: OCP envelope in, `data` out, errors as one readable line."""

from __future__ import annotations

import json as _json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from obcp.cli.signing import AccessKey, AccessKeyAuth

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_USER = "admin"


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"HTTP {status}, error {code}: {message}")
        self.status = status
        self.code = code


def tls_verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    """How an https:// server is verified: against ca_file when given, else the system's CAs; never not."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ApiError(0, 0, f"cannot read the CA file {ca_file} (OBCP_CA_FILE): {exc}") from None


@dataclass(frozen=True)
class ApiClient:
    """Where the server is and who calls it; each call is one HTTP request, signed with the access key when
    there is one, with HTTP Basic otherwise."""

    url: str = DEFAULT_URL
    user: str = DEFAULT_USER
    password: str = ""
    timeout: float = 30.0
    access_key: AccessKey | None = None
    # The CA that signed an https:// server's certificate (OBCP_CA_FILE); without it, the system's CAs.
    ca_file: Path | None = None

    def client(self) -> httpx.Client:
        auth: httpx.Auth | tuple[str, str]
        auth = AccessKeyAuth(self.access_key) if self.access_key else (self.user, self.password)
        return httpx.Client(
            base_url=self.url, auth=auth, timeout=self.timeout, verify=tls_verify(self.ca_file)
        )

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        with self.client() as c:
            try:
                r = c.request(method, path, json=json, params=params)
            except httpx.HTTPError as exc:
                raise ApiError(0, 0, f"cannot reach the obcp server at {self.url}: {exc}") from exc
        try:
            body = r.json()
        except ValueError:
            raise ApiError(r.status_code, 0, r.text[:200] or r.reason_phrase) from None
        if not body.get("successful", False):
            error = body.get("error") or {}
            raise ApiError(
                r.status_code, int(error.get("code", 0)), str(error.get("message", r.reason_phrase))
            )
        return body.get("data")

    def first_event(self, path: str, event: str) -> Any:
        """The data of the first `event` of a server-sent event stream, or None when the stream ends (or
        is refused) without one; the stream is closed as soon as it is read."""
        with self.client() as c:
            try:
                with c.stream("GET", path) as r:
                    if r.status_code != 200:
                        return None
                    name = ""
                    for line in r.iter_lines():
                        if line.startswith("event:"):
                            name = line.split(":", 1)[1].strip()
                        elif line.startswith("data:") and name == event:
                            return _json.loads(line.split(":", 1)[1])
            except (httpx.HTTPError, ValueError):
                return None
        return None
