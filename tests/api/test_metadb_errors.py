"""A metadb that cannot be reached in the middle of a request (after the caller was authenticated) answers
OCP's envelope with 503 and 34004; a statement the metadb refuses for another reason stays a 500 (1999)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError

from obcp.api import errors


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v2/probe")
    async def probe() -> None:
        raise exc

    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/api/v2/probe")


async def test_unreachable_metadb_is_a_503() -> None:
    refused = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    response = await call(app_raising(refused))
    body = response.json()
    assert response.status_code == 503, body
    assert (body["status"], body["error"]["code"]) == (503, 34004), body
    assert body["error"]["message"] == "Unable to connect to the MetaDB of OCP cluster."
    assert "connection refused" not in response.text


async def test_other_metadb_errors_stay_500() -> None:
    response = await call(app_raising(IntegrityError("INSERT", {}, Exception("duplicate"))))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == 1999
