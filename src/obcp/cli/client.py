"""The CLI's HTTP client of an obcp server: OCP envelope in, `data` out, errors as one readable line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx
import typer


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"HTTP {status}, error {code}: {message}")
        self.status = status
        self.code = code


@dataclass
class Connection:
    url: str
    user: str
    password: str
    timeout: float = 30.0

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.user, self.password), timeout=self.timeout)

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


def connection_options(server_url: str | None, user: str | None, password: str | None) -> Connection:
    return Connection(
        url=server_url or os.environ.get("OBCP_URL", "http://127.0.0.1:8080"),
        user=user or os.environ.get("OBCP_USER", "admin"),
        password=password if password is not None else os.environ.get("OBCP_PASSWORD", ""),
    )


SERVER_URL = typer.Option(
    None, "--server-url", envvar="OBCP_URL", help="obcp server [default: http://127.0.0.1:8080]"
)
USER = typer.Option(None, "--user", envvar="OBCP_USER", help="user name [default: admin]")
PASSWORD = typer.Option(None, "--password", envvar="OBCP_PASSWORD", help="password (prefer OBCP_PASSWORD)")


def fail(exc: ApiError) -> typer.Exit:
    typer.echo(f"obcp: {exc}", err=True)
    return typer.Exit(2)
