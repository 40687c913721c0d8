"""Typed FastAPI dependencies on the server's `Runtime`: a handler that declares `db: DbDep` gets the
metadb."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from obcp.api.auth import Authenticator
from obcp.api.runtime import Runtime
from obcp.engine import Engine
from obcp.meta.db import Database
from obcp.operations.services import OperationServices
from obcp.secretbox import SecretBox


def runtime(request: Request) -> Runtime:
    return Runtime.of(request.app)


def _db(request: Request) -> Database:
    return runtime(request).db


def _engine(request: Request) -> Engine:
    return runtime(request).engine


def _secretbox(request: Request) -> SecretBox:
    return runtime(request).secretbox


def _authenticator(request: Request) -> Authenticator:
    return runtime(request).authenticator


def _operations(request: Request) -> OperationServices:
    return runtime(request).operations


RuntimeDep = Annotated[Runtime, Depends(runtime)]
DbDep = Annotated[Database, Depends(_db)]
EngineDep = Annotated[Engine, Depends(_engine)]
SecretBoxDep = Annotated[SecretBox, Depends(_secretbox)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]
OperationsDep = Annotated[OperationServices, Depends(_operations)]
