"""The paging a table's owner applies to its list queries, as the API asks for it."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, Select


class Pager(Protocol):
    """Orders a query by a sort field the caller validates against `allowed` and cuts out one page."""

    def apply(
        self,
        query: Select,  # type: ignore[type-arg]
        allowed: dict[str, ColumnElement],  # type: ignore[type-arg]
        default: ColumnElement,  # type: ignore[type-arg]
    ) -> Select: ...  # type: ignore[type-arg]
