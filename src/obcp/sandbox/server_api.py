"""The parts of obcp's public HTTP API the sandbox uses: register hosts, take over the cluster."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

HOST_EXISTS = 7001
CLUSTER_EXISTS = 11014


class ServerApiError(Exception):
    pass


class ObcpApi:
    def __init__(self, url: str, user: str, password: str, ca_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        # https:// is verified against ca_file when given, else the system's CAs (never unverified).
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._http = httpx.AsyncClient(
            base_url=self.url, auth=(user, password), timeout=30, trust_env=False, verify=verify
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerApiError(f"obcp server {self.url}: {method} {path}: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return response.status_code, body

    @staticmethod
    def _error(method: str, path: str, status: int, body: dict[str, Any]) -> ServerApiError:
        error = body.get("error") or {}
        return ServerApiError(
            f"{method} {path}: HTTP {status}, code {error.get('code')}: {error.get('message', body)}"
        )

    async def register_host(self, name: str, address: str, agent_port: int, agent_key: str) -> dict[str, Any]:
        """The host's record; an already registered address is looked up, given this agent's port and key
        (a sandbox made anew has new ones), and returned marked with `_created: False`."""
        path = "/api/v2/compute/hosts"
        body = {"name": name, "address": address, "agentPort": agent_port, "agentKey": agent_key}
        status, answer = await self._call("POST", path, json=body)
        if status == 200 and answer.get("successful"):
            host: dict[str, Any] = answer["data"]
            return host
        if status == 409 and (answer.get("error") or {}).get("code") == HOST_EXISTS:
            for existing in await self.list_hosts():
                if existing.get("address") == address:
                    update = f"{path}/{existing['id']}"
                    status, answer = await self._call(
                        "PUT", update, json={"agentPort": agent_port, "agentKey": agent_key}
                    )
                    if status != 200:
                        raise self._error("PUT", update, status, answer)
                    return {**answer["data"], "_created": False}
        raise self._error("POST", path, status, answer)

    async def list_hosts(self) -> list[dict[str, Any]]:
        path = "/api/v2/compute/hosts"
        status, answer = await self._call("GET", path, params={"page": 1, "size": 2000})
        if status != 200:
            raise self._error("GET", path, status, answer)
        contents: list[dict[str, Any]] = answer["data"]["contents"]
        return contents

    async def take_over(self, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The cluster's record and whether it was created now (False: it existed under that name)."""
        path = "/api/v2/ob/clusters/takeover"
        status, answer = await self._call("POST", path, json=request)
        if status == 200 and answer.get("successful"):
            return answer["data"], True
        if status == 409 and (answer.get("error") or {}).get("code") == CLUSTER_EXISTS:
            found = await self.find_cluster(request["name"])
            if found is not None:
                return found, False
        raise self._error("POST", path, status, answer)

    async def find_cluster(self, name: str) -> dict[str, Any] | None:
        path = "/api/v2/ob/clusters"
        status, answer = await self._call("GET", path, params={"name": name, "page": 1, "size": 2000})
        if status != 200:
            raise self._error("GET", path, status, answer)
        for cluster in answer["data"]["contents"]:
            if cluster.get("name") == name:
                found: dict[str, Any] = cluster
                return found
        return None
