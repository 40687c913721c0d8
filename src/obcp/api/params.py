"""Shared request parameter types: ids in paths are positive BIGINTs, names are bounded."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="an id, from 1")]
NamePath = Annotated[str, Path(min_length=1, max_length=128)]
