"""A tiny OCP 4.x AccessKey signer written from the documented rules, independent of the server's code (it
imports nothing from obcp), as the public OCP clients sign: the test's word on what a valid request is."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

import httpx


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    ordered = sorted(params, key=lambda kv: kv[0])
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in ordered)


def string_to_sign(
    method: str,
    body: bytes,
    content_type: str,
    date: str,
    host: str,
    ocp_headers: dict[str, str],
    path_and_query: str,
) -> str:
    md5 = hashlib.md5(body).hexdigest().upper() if body else ""
    ocp = "\n".join(f"{k.lower()}:{v}" for k, v in sorted(ocp_headers.items(), key=lambda kv: kv[0].lower()))
    return "\n".join([method, md5, content_type, date, host, ocp, path_and_query])


def signature(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class Signer:
    key_id: str
    secret: str
    host: str  # as the client sends it: host:port

    def headers(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        content_type: str | None = None,
        ocp_headers: dict[str, str] | None = None,
        date: str | None = None,
        signed_query: str | None = None,
    ) -> dict[str, str]:
        date = date or formatdate(usegmt=True)
        query = canonical_query(params) if signed_query is None else signed_query
        text = string_to_sign(
            method,
            body,
            content_type or "",
            date,
            self.host,
            ocp_headers or {},
            path + ("?" + query if query else ""),
        )
        headers = {"Date": date, "Host": self.host, **(ocp_headers or {})}
        headers["Authorization"] = f"OCP-ACCESS-KEY-HMACSHA1 {self.key_id}:{signature(self.secret, text)}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers

    def request(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        json_body: Any = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Signs and sends; the URL has the query as it was signed (sorted, encoded), as MCP clients do."""
        body = b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        if json_body is not None:
            kwargs.setdefault("content_type", "application/json")
        headers = self.headers(method, path, params, body, **kwargs)
        query = canonical_query(params)
        url = path + ("?" + query if query else "")
        return client.request(method, url, content=body or None, headers=headers)
