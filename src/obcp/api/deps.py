"""Typed FastAPI dependencies on the server's `Runtime`: a handler that declares `db: DbDep` gets the
metadb.

They are coroutines although they do not wait for anything: FastAPI runs a plain function dependency on
its thread pool, a hand-off to a thread and back at every request (bench/fleet: 8 % of a task GET).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from obcp.api.auth import Authenticator
from obcp.api.runtime import Runtime
from obcp.engine import Engine
from obcp.meta.db import Database
from obcp.operations.services import OperationServices
from obcp.secretbox import SecretBox


async def runtime(request: Request) -> Runtime:
    return Runtime.of(request.app)


async def _db(request: Request) -> Database:
    return Runtime.of(request.app).db


async def _engine(request: Request) -> Engine:
    return Runtime.of(request.app).engine


async def _secretbox(request: Request) -> SecretBox:
    return Runtime.of(request.app).secretbox


async def _authenticator(request: Request) -> Authenticator:
    return Runtime.of(request.app).authenticator


async def _operations(request: Request) -> OperationServices:
    return Runtime.of(request.app).operations


RuntimeDep = Annotated[Runtime, Depends(runtime)]
DbDep = Annotated[Database, Depends(_db)]
EngineDep = Annotated[Engine, Depends(_engine)]
SecretBoxDep = Annotated[SecretBox, Depends(_secretbox)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]
OperationsDep = Annotated[OperationServices, Depends(_operations)]
